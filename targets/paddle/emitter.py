"""What Paddle does differently from the shared emitter: gradients, and casts against Python numbers."""
from dataclasses import dataclass, field

import libcst as cst

from d2lc.core import ir
from d2lc.emit.base import Emitter
from d2lc.emit.kept_graph import KeptGraph
from d2lc.emit.layer_inputs import Dim
from d2lc.emit.fmt import attr, sub
from d2lc.emit.rules import call
from d2lc.core.ops import SPECS
from d2lc.core.types import ScalarType, TensorType

from .loops import PaddleLoops
from .models import PaddleModels
from .params import PaddleParams

BINARY = {n for n, s in SPECS.items() if s.category == "elementwise" and [p.name for p in s.params] == ["x", "y"]}


@dataclass
class PaddleState:
    tracked: set[str] = field(default_factory=set)  # top-level names marked `stop_gradient = False`, not rebound since
    grad_names: dict[int, set[str]] = field(default_factory=dict)  # id(statement) -> its gradients' names (in functions)
    layer_inputs: dict[int, tuple[Dim, ...]] = field(default_factory=dict)  # id(layer) -> its input shape, in the model being emitted (models.py)
    top_level_inputs: dict[int, tuple[Dim, ...]] | None = None  # the same for top-level code's layers, once read
    kept_buffer: bool = False  # whether top-level code may hold an `x.grad` buffer past its statement
    joined: dict[int, dict[str, cst.BaseExpression]] = field(default_factory=dict)  # id(grad) -> the gradients its one `paddle.grad` call gave
    schedulers: dict = field(default_factory=dict)  # a bound optimizer (its name, id) -> its lr scheduler (loops.py)


class PaddleEmitter(PaddleLoops, KeptGraph, PaddleParams, PaddleModels, Emitter):
    """Gradients as in d2l's Paddle edition: `x.stop_gradient = False`, `y.backward()`, `x.grad`.

    `backward()` *adds* into the `.grad` of every tracked tensor y depends on, and the tensor `x.grad`
    returns is that live buffer: an earlier result bound to a name would change under a later `backward()`,
    whichever variable that one is for (and `x.clear_grad()` zeroes it). So outside loops and functions
    the first gradient with respect to a variable reads `x.grad` until one such buffer is kept past its
    statement (anything but a `print` of it); every other gradient uses `paddle.grad(y, x)[0]`, which
    returns a fresh tensor and adds into no buffer. Gradients of one
    value with respect to several variables in consecutive statements (`gw = grad(l, w)`, `gb = grad(l, b)`,
    see passes.shared_backward) come from one run and one call, `w_grad, b_grad = paddle.grad(l, [w, b])`.
    """

    modules_start_in_training_mode = True  # nn.Module / nn.Layer: a top-level model gets .eval()
    State = PaddleState
    state: PaddleState

    def records_inplace(self, g: ir.Grad) -> bool:
        return True

    def record(self, g, run):
        # the variables of the later grads that share this run are marked before it too
        return [*(st for x in [g.wrt.name, *self.joined_wrts(g)] for st in self._track(x)), *run]

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        x = g.wrt.name
        root = self.shared_backward.get(id(g))
        if root is not None and id(root) in self.state.joined:  # given by an earlier statement's call
            return self.state.joined[id(root)][x]
        if id(g) not in self.recorded:
            self.pre.extend(self._track(x))
            self.pre.extend(self.slice_code(g))
        y = self.expr(g.y)
        joined = self.joined_wrts(g) if id(g) in self.recorded else []
        if joined:
            return self._joined_grads(g, y, [x, *joined])
        if self.in_function is not None:  # where shapes vary, y may not depend on x: the gradient is then zeros
            busy = self.state.grad_names.setdefault(id(self.current_stmt), set())
            name = self.scratch(f"{x}_grad", busy)  # distinct from the other gradients of this statement
            busy.add(name)
            first = sub(call("paddle.grad", y, cst.Name(x), allow_unused=cst.Name("True")),
                        [cst.SubscriptElement(cst.Index(cst.Integer("0")))])
            self.pre.append(self.assign(name, first))
            return cst.parse_expression(f"{name} if {name} is not None else paddle.zeros_like({x})")
        if x in self.grad_seen or self.state.kept_buffer or self.loop_depth:
            return sub(call("paddle.grad", y, cst.Name(x)), [cst.SubscriptElement(cst.Index(cst.Integer("0")))])
        self.pre.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(y, cst.Name("backward")), []))]))
        self.grad_seen.add(x)
        s = self.current_stmt
        if not (isinstance(s, ir.ExprStmt) and isinstance(s.value, ir.Op) and s.value.op == "print"):
            self.state.kept_buffer = True  # `g = x.grad` outlives the statement: no later backward() may add into it
        return attr(cst.Name(x), cst.Name("grad"))

    def _joined_grads(self, g: ir.Grad, y: cst.BaseExpression, wrts: list[str]) -> cst.BaseExpression:
        """`x_grad, z_grad = paddle.grad(y, [x, z])` before the statement; g's gradient (x's), the others kept for
        the later grads that read the same call. In a function an unused variable's gradient is zeros."""
        wrts = list(dict.fromkeys(wrts))  # `grad(l, w)` again after `grad(l, b)` reads the same call's w_grad
        busy = self.state.grad_names.setdefault(id(self.current_stmt), set())
        names = []
        for v in wrts:
            names.append(self.scratch(f"{v}_grad", busy))
            busy.add(names[-1])
        extra = {"allow_unused": cst.Name("True")} if self.in_function is not None else {}
        inputs = cst.List([cst.Element(cst.Name(v)) for v in wrts])
        targets = cst.Tuple([cst.Element(cst.Name(n)) for n in names], lpar=[], rpar=[])
        self.pre.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(targets)], call("paddle.grad", y, inputs, **extra))]))
        if self.in_function is not None:
            values = {v: cst.parse_expression(f"{n} if {n} is not None else paddle.zeros_like({v})") for v, n in zip(wrts, names)}
        else:
            values = {v: cst.Name(n) for v, n in zip(wrts, names)}
        self.state.joined[id(g)] = values
        return values[wrts[0]]

    def operand(self, node: ir.Op, name: str) -> cst.BaseExpression:
        # Against a Python number Paddle promotes as the IR does (int64 tensor + 0.5 is float32):
        # cast only when both operands are tensors, where Paddle refuses mixed dtypes.
        e = node.args[name]
        if node.op in BINARY and isinstance(e.type, TensorType):
            other = node.args.get("y" if name == "x" else "x")
            if other is not None and isinstance(other.type, ScalarType):
                return self.expr(e)
        return super().operand(node, name)

    def _track(self, x: str) -> list[cst.BaseStatement]:
        """`x.stop_gradient = False`, unless x is known to be tracked already (a top-level name not rebound since)."""
        tracked = self.state.tracked
        if self.in_function is None and not self.loop_depth:
            if x in tracked:
                return []
            tracked.add(x)
        return [cst.parse_statement(f"{x}.stop_gradient = False\n")]

    def leave_block(self, s, code):
        self.state.tracked.clear()  # after control flow, don't rely on what is tracked
        return code

    def after_stmt(self, s, code):
        if isinstance(s, (ir.Assign, ir.IndexAssign)):
            self.state.tracked.discard(s.name)  # a new tensor under this name starts untracked
        return super().after_stmt(s, code)
