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
        return isinstance(g.y, ir.Var)  # an expression y must itself be computed while recording

    def _tape_block(self, g: ir.Grad, run: list[cst.BaseStatement], keep: bool = False) -> tuple[str, cst.With]:
        pending = self.state.setdefault("pending_tapes", set())
        tape = self.scratch("tape", pending)
        if keep:  # recorded now, used by a later statement: no other tape may take its name meanwhile
            pending.add(tape)
        watch = cst.parse_statement(f"{tape}.watch({g.wrt.name})\n")
        block = parse_template_statement(f"with tf.GradientTape() as {tape}:\n    pass\n")
        return tape, block.with_changes(body=cst.IndentedBlock([watch, *run]))

    def record(self, g, run):
        tape, block = self._tape_block(g, run, keep=True)
        self.state[id(g)] = tape
        return [block]

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        if id(g) in self.recorded:
            tape = self.state[id(g)]
            self.state.setdefault("pending_tapes", set()).discard(tape)
            y = self.expr(g.y)
        else:
            run = self._run(g)
            y = self.expr(g.y)
            if not isinstance(g.y, ir.Var):  # compute the value itself under the tape
                name = self.scratch("value")
                run.append(self.assign(name, y))
                y = cst.Name(name)
            tape, block = self._tape_block(g, run)
            self.pre.append(block)
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

    def _stmt(self, s):
        if isinstance(s, ir.Assign):
            self.state.setdefault("variables", set()).discard(s.name)
        if isinstance(s, (ir.For, ir.If)):
            self.state["variables"] = set()  # after control flow, don't rely on what is a Variable
            out = super()._stmt(s)
            self.state["variables"] = set()
            return out
        return super()._stmt(s)

