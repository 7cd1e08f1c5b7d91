"""What TensorFlow spells differently: `GradientTape` blocks and `tf.Variable` element writes."""
from dataclasses import dataclass, field

import libcst as cst

from d2lc.emit.fmt import attr
from libcst.helpers import parse_template_statement

from d2lc.core import ir
from d2lc.emit.base import Emitter
from d2lc.emit.rules import call
from d2lc.core.types import DType, TensorType

from .loops import TensorFlowLoops
from .models import TensorFlowModels
from .params import TensorFlowParams


@dataclass
class TensorFlowState:
    replaying: int = 0  # > 0 while a grad's slice is emitted again under its tape
    pending_tapes: set[str] = field(default_factory=set)  # tape and value names a `gradient` call still waits for
    release: set[str] = field(default_factory=set)  # of those, the ones free again once this statement ends
    tapes: dict[int, tuple[str, cst.BaseExpression]] = field(default_factory=dict)  # id(grad) -> (tape, y) of a recorded run
    variables: set[str] = field(default_factory=set)  # names that hold a tf.Variable now
    blocks: list[set[str]] = field(default_factory=list)  # per open loop or branch: `variables` after it
    hoisted: list[list[str]] = field(default_factory=list)  # per open loop or branch: made Variables before it


# Set before TensorFlow is imported (docs/site.md, "TensorFlow without oneDNN"): its C++ log shows errors
# only, and its oneDNN CPU kernels, whose batched matmul with a broadcast rank-2 operand corrupts the heap in
# TF 2.21, are off (as in every process the harness and the book build run TensorFlow in: d2lc.build.envs).
ENVIRONMENT = (
    'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # C++ log: errors only',
    'os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"  # oneDNN off: its CPU batched matmul corrupts memory in TF 2.21',
)
TF_IMPORT = "import tensorflow as tf"


class TensorFlowEmitter(TensorFlowLoops, TensorFlowParams, TensorFlowModels, Emitter):
    State = TensorFlowState
    state: TensorFlowState

    def setup_code(self, code: str) -> str:
        """The imports, with TensorFlow's environment variables set right before `import tensorflow`."""
        text = super().setup_code(code)
        lines = text.splitlines()
        if TF_IMPORT not in lines:
            return text
        at = lines.index(TF_IMPORT)
        head = [line for line in lines[:at] if line != "import os"]
        return "\n".join(["import os", *head, "", *ENVIRONMENT, *lines[at:]]) + ("\n" if text.endswith("\n") else "")

    def records_inplace(self, g: ir.Grad) -> bool:
        # an expression y must itself be computed under the tape: with the run, when the grad comes right after it
        return isinstance(g.y, ir.Var) or id(g) in self.follows_run

    def _scratch(self, base: str) -> str:
        """A name for a tape or a `value` that no tape still waiting for its `gradient` call uses."""
        pending = self.state.pending_tapes
        name = self.scratch(base, pending)
        pending.add(name)  # until the statement that calls `gradient` ends (see `before_stmt`)
        return name

    def _tape_block(self, g: ir.Grad, run: list[cst.BaseStatement]) -> tuple[str, cst.With]:
        tape = self._scratch("tape")
        watch = cst.parse_statement(f"{tape}.watch({g.wrt.name})\n")
        block = parse_template_statement(f"with tf.GradientTape() as {tape}:\n    pass\n")
        return tape, block.with_changes(body=cst.IndentedBlock([watch, *run]))

    def record(self, g, run):
        y = self.recorded_value(g, run, self._scratch)
        tape, block = self._tape_block(g, run)
        self.state.tapes[id(g)] = tape, y
        return [block]

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        if id(g) in self.recorded:
            tape, y = self.state.tapes[id(g)]
        else:
            self.state.replaying += 1
            try:
                run = self.slice_code(g)
            finally:
                self.state.replaying -= 1
            y = self.recorded_value(g, run, self._scratch)
            tape, block = self._tape_block(g, run)
            self.pre.append(block)
        self.state.release.update({tape, y.value})
        # In a function, where shapes vary, y may not depend on x (an empty loop or slice): the language's gradient
        # is then zeros of x's shape, where TensorFlow's default is None. Top-level code keeps the book's call.
        zero = cst.parse_expression("tf.UnconnectedGradients.ZERO") if self.in_function is not None else None
        return call(f"{tape}.gradient", y, cst.Name(g.wrt.name), unconnected_gradients=zero)

    def writes_functionally(self, s: ir.IndexAssign) -> bool:
        return self.differentiated(s)  # a Variable's assign() would cut the tape

    def functional_write(self, s: ir.IndexAssign) -> list[cst.BaseStatement]:
        """`Y[index] = v` as a new tensor: the flat positions of `Y[index]` in Y, then a scatter into flat Y."""
        self.state.variables.discard(s.name)
        positions = self.scratch("positions")
        grid = cst.parse_expression(f"tf.reshape(tf.range(tf.size({s.name})), {s.name}.shape)")
        value = self.assign_value(s)
        vt, slot = s.value.type, s.slot_type
        want = slot.dtype if isinstance(slot, TensorType) else None
        if want is not None and (vt.dtype != want if isinstance(vt, TensorType) else want != DType.float32):
            value = call("tf.cast", value, self.dtype_expr(want))
        updates = call("tf.broadcast_to", value, cst.parse_expression(f"{positions}.shape"))
        scatter = cst.parse_expression(
            f"tf.tensor_scatter_nd_update(tf.reshape({s.name}, [-1]), tf.reshape({positions}, [-1, 1]), UPDATES)")
        scatter = scatter.with_changes(args=[*scatter.args[:2], cst.Arg(call("tf.reshape", updates, cst.parse_expression("[-1]")))])
        return [self.assign(positions, self.subscript(grid, s.index)),
                self.assign(s.name, call("tf.reshape", scatter, attr(cst.Name(s.name), cst.Name("shape"))))]

    def index_assign(self, s: ir.IndexAssign) -> list[cst.BaseStatement]:
        if self.writes_functionally(s):
            return self.functional_write(s)
        variables = self.state.variables
        out: list[cst.BaseStatement] = []
        if s.name not in variables or (s.may_alias and id(s) not in self.copied_writes):
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

    def before_stmt(self, s):
        if not self.state.replaying:  # the names of tapes whose `gradient` ran in an earlier statement are free again
            self.state.pending_tapes.difference_update(self.state.release)
            self.state.release.clear()

    def bind(self, s):
        if isinstance(s, ir.Assign):
            self.state.variables.discard(s.name)

    def enter_block(self, s):
        st = self.state
        inner = list(ir.walk_stmts(s.body + (s.orelse if isinstance(s, ir.If) else [])))
        assigned = {n for b in inner if isinstance(b, (ir.Assign, ir.Unpack)) for n in ir.bound_names(b)} \
            | (set(s.loop_vars) if isinstance(s, ir.For) else set())
        kept = st.variables - assigned  # still Variables at every pass through the body, and after it
        hoisted: list[str] = []
        copied = set(self.loop_copies(s)) if isinstance(s, ir.For) else set()  # made Variables by the base's `copy_of`
        if isinstance(s, ir.For):  # a tensor the loop only writes elements of becomes a Variable once, before it
            written = [b for b in inner if isinstance(b, ir.IndexAssign) and not self.writes_functionally(b)]
            skip = assigned | kept | copied | {b.name for b in written if b.may_alias}
            hoisted = list(dict.fromkeys(b.name for b in written if b.name not in skip))
        st.variables = kept | set(hoisted) | copied if isinstance(s, ir.For) else set()
        st.blocks.append(kept | set(hoisted) | copied)
        st.hoisted.append(hoisted)

    def leave_block(self, s, code):
        self.state.variables = self.state.blocks.pop()
        return [self.assign(n, call("tf.Variable", cst.Name(n))) for n in self.state.hoisted.pop()] + code

    def copy_of(self, name, type_, loc):
        return self.assign(name, call("tf.Variable", cst.Name(name)))  # a Variable holds a copy of its value

    def sequence(self, stmts):
        """`N = expr` right before `N = tf.Variable(N)` becomes `N = tf.Variable(expr)` (a copy of `tf.identity(x)` is a copy of x)."""
        out: list[cst.BaseStatement] = []
        for stmt in super().sequence(stmts):
            name = _wraps_itself(stmt)
            j = len(out) - 1
            while name and j >= 0 and _wraps_itself(out[j]) not in (None, name):  # past other names' wraps
                j -= 1
            value = _assigned(out[j], name) if name and j >= 0 else None
            if value is None:
                out.append(stmt)
                continue
            if _is_call(value, "tf.identity") and len(value.args) == 1:
                value = value.args[0].value
            out[j] = self.assign(name, call("tf.Variable", value))
        return out


def _assigned(stmt: cst.BaseStatement, name: str) -> cst.BaseExpression | None:
    """The value of `name = value`, if stmt is that statement."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
        a = stmt.body[0]
        if len(a.targets) == 1 and isinstance(a.targets[0].target, cst.Name) and a.targets[0].target.value == name:
            return a.value
    return None


def _is_call(e: cst.BaseExpression, dotted: str) -> bool:
    return isinstance(e, cst.Call) and cst.Module([]).code_for_node(e.func) == dotted


def _wraps_itself(stmt: cst.BaseStatement) -> str | None:
    """N for the statement `N = tf.Variable(N)`."""
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign):
        a = stmt.body[0]
        t = a.targets[0].target if len(a.targets) == 1 else None
        if isinstance(t, cst.Name) and _is_call(a.value, "tf.Variable") and len(a.value.args) == 1 \
                and isinstance(a.value.args[0].value, cst.Name) and a.value.args[0].value.value == t.value:
            return t.value
    return None

