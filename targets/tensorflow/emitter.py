"""What TensorFlow spells differently: `GradientTape` blocks and `tf.Variable` element writes."""
import libcst as cst

from d2lc.emit.fmt import attr
from libcst.helpers import parse_template_statement

from d2lc import ir
from d2lc.emit.base import Emitter
from d2lc.emit.rules import call
from d2lc.types import TensorType

from .models import TensorFlowModels


class TensorFlowEmitter(TensorFlowModels, Emitter):
    def records_inplace(self, g: ir.Grad) -> bool:
        # an expression y must itself be computed under the tape: with the run, when the grad comes right after it
        return isinstance(g.y, ir.Var) or id(g) in self.follows_run

    def _scratch(self, base: str) -> str:
        """A name for a tape or a `value` that no tape still waiting for its `gradient` call uses."""
        pending = self.state.setdefault("pending_tapes", set())
        name = self.scratch(base, pending)
        pending.add(name)  # until the statement that calls `gradient` ends (see `_stmt`)
        return name

    def _tape_block(self, g: ir.Grad, run: list[cst.BaseStatement]) -> tuple[str, cst.With]:
        tape = self._scratch("tape")
        watch = cst.parse_statement(f"{tape}.watch({g.wrt.name})\n")
        block = parse_template_statement(f"with tf.GradientTape() as {tape}:\n    pass\n")
        return tape, block.with_changes(body=cst.IndentedBlock([watch, *run]))

    def _value(self, g: ir.Grad, run: list[cst.BaseStatement]) -> cst.BaseExpression:
        """y as code; an expression is computed under the tape too, as `value = ...` at the end of `run`."""
        y = self.expr(g.y)
        if isinstance(g.y, ir.Var):
            return y
        name = self._scratch("value")
        run.append(self.assign(name, y))
        return cst.Name(name)

    def record(self, g, run):
        y = self._value(g, run)
        tape, block = self._tape_block(g, run)
        self.state[id(g)] = tape, y
        return [block]

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        if id(g) in self.recorded:
            tape, y = self.state[id(g)]
        else:
            self.replaying += 1
            try:
                run = self._run(g)
            finally:
                self.replaying -= 1
            y = self._value(g, run)
            tape, block = self._tape_block(g, run)
            self.pre.append(block)
        self.state.setdefault("release", set()).update({tape, y.value})
        return call(f"{tape}.gradient", y, cst.Name(g.wrt.name))

    def index_assign(self, s: ir.IndexAssign) -> list[cst.BaseStatement]:
        variables = self.state.setdefault("variables", set())
        out: list[cst.BaseStatement] = []
        if s.name not in variables or s.may_alias:
            out.append(self.assign(s.name, call("tf.Variable", cst.Name(s.name))))
            variables.add(s.name)
        target = self.subscript(cst.Name(s.name), s.index)
        value = self.assign_value(s)
        vt, slot = s.value.type, s.slot_type
        if isinstance(vt, TensorType) and isinstance(slot, TensorType) and vt.dtype != slot.dtype:
            value = call("tf.cast", value, self.dtype_expr(slot.dtype))
        exact = isinstance(vt, TensorType) and isinstance(slot, TensorType) and vt.shape == slot.shape and None not in slot.shape
        if isinstance(slot, TensorType) and slot.rank and not exact:  # assign() needs the slice's exact shape
            shape = attr(target, cst.Name("shape"))
            value = call("tf.broadcast_to", value, shape) if isinstance(vt, TensorType) else call("tf.fill", shape, value)
        out.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(target, cst.Name("assign")), [cst.Arg(value)]))]))
        return out

    replaying = 0

    def _stmt(self, s):
        if not self.replaying:  # the names of tapes whose `gradient` ran in an earlier statement are free again
            release = self.state.setdefault("release", set())
            self.state.setdefault("pending_tapes", set()).difference_update(release)
            release.clear()
        if isinstance(s, ir.Assign):
            self.state.setdefault("variables", set()).discard(s.name)
        if isinstance(s, (ir.For, ir.If)):
            self.state["variables"] = set()  # after control flow, don't rely on what is a Variable
            out = super()._stmt(s)
            self.state["variables"] = set()
            return out
        return super()._stmt(s)

