"""What MXNet spells differently: `attach_grad` + `autograd.record()`, and `npx.set_np()`."""
from dataclasses import dataclass, field

import libcst as cst

from d2lc.emit.fmt import attr
from d2lc.emit.rules import call
from libcst.helpers import parse_template_statement

from d2lc.core import ir
from d2lc.emit.base import Emitter
from d2lc.emit.kept_graph import KeptGraph
from d2lc.emit.layer_inputs import Dim
from d2lc.core.types import TensorType

from .loops import MXNetLoops
from .models import MXNetModels
from .params import MXNetParams


@dataclass
class MXNetState:
    recorded_y: dict[int, cst.BaseExpression] = field(default_factory=dict)  # id(grad) -> y, for a run recorded in place
    layer_inputs: dict[int, tuple[Dim, ...]] = field(default_factory=dict)  # id(layer) -> its input shape, in the model being emitted (models.py)
    conditional_layers: set[int] = field(default_factory=set)  # id(layer) of layers applied under a branch (models.py)
    matrix_layers: set[int] = field(default_factory=set)  # id(layer) of layers whose inputs are all matrices (models.py)
    model_params: set[str] = field(default_factory=set)  # the `param(...)` members of the model's forward (models.py)


class MXNetEmitter(MXNetLoops, KeptGraph, MXNetParams, MXNetModels, Emitter):
    State = MXNetState
    state: MXNetState

    def prelude(self) -> list[str]:
        return ["npx.set_np()"]

    def records_inplace(self, g: ir.Grad) -> bool:
        # an expression y must itself be computed while recording: with the run, when the grad comes right after it;
        # not when the statement takes another gradient w.r.t. the same x (its attach_grad() would cut this one's)
        return (isinstance(g.y, ir.Var) or id(g) in self.follows_run) and id(g) not in self.shares_wrt

    def _recording(self, g: ir.Grad, run: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        # later grads that read this backward pass attach their variables here too
        attach = [cst.parse_statement(f"{x}.attach_grad()\n") for x in [g.wrt.name, *self.joined_wrts(g)]]
        block = parse_template_statement("with autograd.record():\n    pass\n")
        return [*attach, block.with_changes(body=cst.IndentedBlock(run))]

    def record(self, g, run):
        self.state.recorded_y[id(g)] = self.recorded_value(g, run)
        return self._recording(g, run)

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        if self.reads_earlier_backward(g):  # filled by the backward pass just before
            return self.kept_grad(g, attr(cst.Name(g.wrt.name), cst.Name("grad")))
        if id(g) in self.recorded:
            y = self.state.recorded_y[id(g)]
        else:
            run = self.slice_code(g)
            y = self.recorded_value(g, run)
            self.pre.extend(self._recording(g, run))
        self.pre.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(y, cst.Name("backward")), []))]))
        return self.kept_grad(g, attr(cst.Name(g.wrt.name), cst.Name("grad")))

    def op(self, node: ir.Op) -> cst.BaseExpression:
        index = node.args.get("index") if node.op == "getitem" else None
        if index and len(index) == 1 and isinstance(index[0], ir.IndexSlice) and index[0].step is None and self.in_function \
                and isinstance(node.args["x"].type, TensorType) \
                and not _surely_ordered(index[0]):
            # `x[i:j]` alone takes MXNet's contiguous fast path, which raises for i > j; with `...` it is an empty
            # slice. In functions only, where bounds vary with the call (top-level code raises visibly if ever)
            return self.subscript(self.expr(node.args["x"]), [*index, ir.IndexEllipsis()])
        return super().op(node)

    def writes_functionally(self, s: ir.IndexAssign) -> bool:
        return self.differentiated(s)  # MXNet allows no element assignment while autograd records

    def index_assign(self, s: ir.IndexAssign) -> list[cst.BaseStatement]:
        """Under a gradient, `Y[index] = v` makes a new array: the flat positions of `Y[index]`, a gather
        index that takes those from v and the rest from Y (built outside the graph), and one gather."""
        if not self.writes_functionally(s):
            return super().index_assign(s)
        y = s.name
        positions, source = self.scratch("positions"), self.scratch("source")
        grid = cst.parse_expression(f"np.arange({y}.size, dtype=np.int64).reshape({y}.shape)")
        value = self.assign_value(s)
        if isinstance(s.value.type, TensorType):
            value = call("np.broadcast_to", value, cst.parse_expression(f"{positions}.shape"))
        else:
            value = call("np.full", cst.parse_expression(f"{positions}.shape"), value)
        return [
            self.assign(positions, self.subscript(grid, s.index)),
            self.assign(source, cst.parse_expression(f"np.arange({y}.size, dtype=np.int64)")),
            cst.parse_statement(f"{source}[{positions}.reshape(-1)] = {y}.size + np.arange({positions}.size, dtype=np.int64)\n"),
            self.assign(y, cst.parse_expression(
                f"np.concatenate([{y}.reshape(-1), VALUE.reshape(-1)])[{source}].reshape({y}.shape)").visit(_Put(value))),
        ]


def _surely_ordered(s: ir.IndexSlice) -> bool:
    """Whether start <= stop is certain: a start of 0 (or none), or constant bounds in order."""
    lo = s.start.value if isinstance(s.start, ir.Const) else (0 if s.start is None else None)
    hi = s.stop.value if isinstance(s.stop, ir.Const) else (None if s.stop is None else -1)
    return lo == 0 or (isinstance(lo, int) and lo > 0 and (hi is None or (isinstance(hi, int) and hi >= lo)))


class _Put(cst.CSTTransformer):
    """Put a ready expression where a template says VALUE."""

    def __init__(self, value: cst.BaseExpression):
        self.value = value

    def leave_Name(self, original, updated):
        return self.value if updated.value == "VALUE" else updated
