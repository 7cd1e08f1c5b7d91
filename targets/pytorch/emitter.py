"""What PyTorch spells differently from the table: gradients via `requires_grad_` and `backward()`."""
from dataclasses import dataclass, field

import libcst as cst

from d2lc.emit.fmt import attr

from d2lc.core import ir
from d2lc.emit.base import Emitter
from d2lc.emit.kept_graph import KeptGraph
from d2lc.emit.layer_inputs import Dim
from d2lc.passes.analysis import reads
from d2lc.passes.writes import writes

from .loops import PyTorchLoops
from .models import PyTorchModels
from .params import PyTorchParams


@dataclass
class PyTorchState:
    tracked: set[str] = field(default_factory=set)  # leaves already marked (see PyTorchEmitter)
    nonleaf: set[str] = field(default_factory=set)  # values that may be computed from gradient work
    stale: set[str] = field(default_factory=set)  # tensors whose .grad an earlier backward() filled
    blocks: list[set[str]] = field(default_factory=list)  # per open loop or branch: `stale` before it
    layer_inputs: dict[int, tuple[Dim, ...]] = field(default_factory=dict)  # id(layer) -> its input shape, in the model being emitted (models.py)
    model_members: bool = False  # while a model's members are emitted (models.py)
    schedulers: dict[str, str] = field(default_factory=dict)  # a bound optimizer -> its lr scheduler (loops.py)


class PyTorchEmitter(PyTorchLoops, KeptGraph, PyTorchParams, PyTorchModels, Emitter):
    """Gradients as in d2l's PyTorch edition: `x.requires_grad_(True)`, `y.backward()`, `x.grad`.

    Three sets of names (in `state`) keep this correct without redundant statements:
    `tracked`, leaves already marked (a top-level name not rebound since), which need no new mark;
    `nonleaf`, values that may be computed from gradient work (`w = w - lr * g`), which become
    leaves again through `x.detach().requires_grad_(True)`; and `stale`, tensors whose `.grad` an
    earlier `backward()` filled, which are given `x.grad = None` first, since `backward()` adds to
    `.grad` in place (and `g = x.grad` earlier would change with it).
    """

    modules_start_in_training_mode = True  # nn.Module / nn.Layer: a top-level model gets .eval()
    State = PyTorchState
    state: PyTorchState

    def records_inplace(self, g: ir.Grad) -> bool:
        return True

    def _leaf(self, x: str) -> list[cst.BaseStatement]:
        """Make x a leaf that requires grad: nothing if it is one already, in place if it is a fresh
        tensor, and from a detached copy if it may be computed from earlier gradient work."""
        tracked, nonleaf, stale = self.state.tracked, self.state.nonleaf, self.state.stale
        if x in nonleaf:
            nonleaf.discard(x)
            stale.discard(x)  # a new tensor, without a .grad
            stmt = f"{x} = {x}.detach().requires_grad_(True)\n"
        elif x in tracked and self.in_function is None and not self.loop_depth:
            return []
        else:
            stmt = f"{x}.requires_grad_(True)\n"
        if self.in_function is None and not self.loop_depth:
            tracked.add(x)
        return [cst.parse_statement(stmt)]

    def record(self, g, run):
        # the leaves of later grads that read this backward pass are marked before the run too
        return [*(st for x in [g.wrt.name, *self.joined_wrts(g)] for st in self._leaf(x)), *run]

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        x = g.wrt.name
        if self.reads_earlier_backward(g):  # filled by the backward pass just before
            self.grad_seen.add(x)
            self.state.stale.add(x)
            return self.kept_grad(g, attr(cst.Name(x), cst.Name("grad")))
        if id(g) not in self.recorded:
            leaf = self._leaf(x)
        stale = self.state.stale
        for name in sorted((reads(g.slice) | reads(g.y) | {x, *self.joined_wrts(g)}) & stale):  # fresh .grad buffers
            self.pre.append(cst.parse_statement(f"{name}.grad = None\n"))
        if id(g) not in self.recorded:
            self.pre.extend(leaf)
            self.pre.extend(self.slice_code(g))
        if self.in_function is not None and not self.joined_wrts(g):
            return self._grad_or_zeros(g)
        self.pre.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(self.expr(g.y), cst.Name("backward")), []))]))
        self.grad_seen.add(x)
        stale |= (reads(g.slice) | reads(g.y) | {x}) & self.grad_seen
        return self.kept_grad(g, attr(cst.Name(x), cst.Name("grad")))

    def _grad_or_zeros(self, g: ir.Grad) -> cst.BaseExpression:
        """In a function, where shapes vary, y may not depend on x (an empty loop or slice): the language's
        gradient is then zeros of x's shape, where `backward()` would raise or leave `x.grad` None."""
        y = g.y.name if isinstance(g.y, ir.Var) else self.scratch("value")
        if not isinstance(g.y, ir.Var):
            self.pre.append(self.assign(y, self.expr(g.y)))
        x = g.wrt.name
        return cst.parse_expression(f"torch.autograd.grad({y}, {x}, allow_unused=True, materialize_grads=True)[0] "
                                    f"if {y}.requires_grad else torch.zeros_like({x})")

    def funcdef(self, f: ir.FuncDef) -> cst.FunctionDef:
        # a parameter may be the caller's tensor, with a .grad of its own or not a leaf: differentiate a detached copy
        st = self.state
        saved = st.tracked, st.nonleaf, st.stale
        st.tracked, st.nonleaf, st.stale = set(), {p.name for p in f.params}, set()
        try:
            return super().funcdef(f)
        finally:
            st.tracked, st.nonleaf, st.stale = saved

    def enter_block(self, s):
        st = self.state
        body = list(ir.walk_stmts(s.body + (s.orelse if isinstance(s, ir.If) else [])))
        targets = _grad_targets(body)
        st.blocks.append(set(st.stale))
        if isinstance(s, ir.For):  # what a previous pass through the body left behind
            changed = set().union(*(writes(b) for b in s.body))
            st.stale |= targets - changed
            st.nonleaf |= {b.name for b in body if isinstance(b, ir.Assign) and b.name in targets
                           and reads(b.value, through_detach=False) & (targets | self.grad_seen)}

    def leave_block(self, s, code):
        st = self.state
        st.tracked.clear()  # after control flow, don't rely on what is marked
        st.stale |= st.blocks.pop() | _grad_targets(list(ir.walk_stmts(s.body + (s.orelse if isinstance(s, ir.If) else []))))
        return code

    def bind(self, s):
        st = self.state
        st.tracked.discard(s.name)  # a new tensor under this name starts unmarked, without a .grad
        st.stale.discard(s.name)
        if isinstance(s, ir.Assign) and self.grad_seen:
            if reads(s.value) & self.grad_seen:
                st.nonleaf.add(s.name)
            else:
                st.nonleaf.discard(s.name)


def _grad_targets(body: list[ir.Stmt]) -> set[str]:
    """The variables the grads in these statements differentiate with respect to."""
    return {e.wrt.name for b in body for e in ir.own_exprs(b) if isinstance(e, ir.Grad)}
