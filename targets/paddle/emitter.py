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

from .models import PaddleModels
from .params import PaddleParams

BINARY = {n for n, s in SPECS.items() if s.category == "elementwise" and [p.name for p in s.params] == ["x", "y"]}


@dataclass
class PaddleState:
    tracked: set[str] = field(default_factory=set)  # top-level names marked `stop_gradient = False`, not rebound since
    grad_names: dict[int, set[str]] = field(default_factory=dict)  # id(statement) -> its gradients' names (in functions)
    layer_inputs: dict[int, tuple[Dim, ...]] = field(default_factory=dict)  # id(layer) -> its input shape, in the model being emitted (models.py)
    top_level_inputs: dict[int, tuple[Dim, ...]] | None = None  # the same for top-level code's layers, once read


class PaddleEmitter(KeptGraph, PaddleParams, PaddleModels, Emitter):
    """Gradients as in d2l's Paddle edition: `x.stop_gradient = False`, `y.backward()`, `x.grad`.

    `backward()` *adds* into `x.grad`, and the tensor `x.grad` returns is that live buffer: an earlier
    result bound to a name would change under a later `backward()` (and `x.clear_grad()` zeroes it).
    So only the first gradient with respect to a variable, outside loops and functions, reads
    `x.grad`; every other one uses `paddle.grad(y, x)[0]`, which returns a fresh tensor.
    """

    modules_start_in_training_mode = True  # nn.Module / nn.Layer: a top-level model gets .eval()
    State = PaddleState
    state: PaddleState

    def records_inplace(self, g: ir.Grad) -> bool:
        return True

    def record(self, g, run):
        return [*self._track(g.wrt.name), *run]

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        x = g.wrt.name
        if id(g) not in self.recorded:
            self.pre.extend(self._track(x))
            self.pre.extend(self.slice_code(g))
        y = self.expr(g.y)
        if self.in_function is not None:  # where shapes vary, y may not depend on x: the gradient is then zeros
            busy = self.state.grad_names.setdefault(id(self.current_stmt), set())
            name = self.scratch(f"{x}_grad", busy)  # distinct from the other gradients of this statement
            busy.add(name)
            first = sub(call("paddle.grad", y, cst.Name(x), allow_unused=cst.Name("True")),
                        [cst.SubscriptElement(cst.Index(cst.Integer("0")))])
            self.pre.append(self.assign(name, first))
            return cst.parse_expression(f"{name} if {name} is not None else paddle.zeros_like({x})")
        if x in self.grad_seen or self.loop_depth:
            return sub(call("paddle.grad", y, cst.Name(x)), [cst.SubscriptElement(cst.Index(cst.Integer("0")))])
        self.pre.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(y, cst.Name("backward")), []))]))
        self.grad_seen.add(x)
        return attr(cst.Name(x), cst.Name("grad"))

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
