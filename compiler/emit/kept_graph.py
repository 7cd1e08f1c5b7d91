"""Eager targets (PyTorch, Paddle) keep the graph of a loss computed at the top level until a backward pass frees it:
a parameter's gradient then reads that graph where it stands (`loss.backward()` right after `loss = ...`), and only a
loss whose graph may be gone (a second gradient of it, a tensor gradient or training in between) is computed again."""
from __future__ import annotations

from d2lc.core import ir
from d2lc.passes.analysis import reads

_PLAIN = (ir.Assign, ir.Unpack, ir.ExprStmt)


def may_run_backward(s: ir.Stmt) -> bool:
    """Whether a statement may run a backward pass or change gradients (a tensor gradient, a chapter function, training,
    a loop or a branch), conservatively."""
    if not isinstance(s, _PLAIN):
        return not isinstance(s, (ir.ParamWrite, ir.ModelDef, ir.Pass))
    return any(isinstance(e, (ir.Grad, ir.CallFunc)) for e in ir.walk_exprs(s))


class KeptGraph:
    """Mixed into an eager backend's emitter: which top-level statements' graphs still stand, and which parameter
    gradient's backward pass filled the parameters' `.grad` last."""

    kept_stmts: set[int]
    last_backward: tuple | None = None

    def after_stmt(self, s, code):
        kept = self.__dict__.setdefault("kept_stmts", set())
        if not (self.block_depth or self.in_function is not None or self.in_model):
            if may_run_backward(s):
                kept.clear()
                self.last_backward = None
            elif isinstance(s, _PLAIN):
                kept.add(id(s))
        return super().after_stmt(s, code)

    def graph_kept(self, g: ir.ParamGrad) -> bool:
        """Whether the loss's statements ran at the top level since the last backward pass (their graph stands)."""
        kept = self.__dict__.setdefault("kept_stmts", set())
        return bool(g.slice) and all(id(s) in kept for s in g.slice)

    def graph_read_later(self, g: ir.ParamGrad) -> bool:
        """Whether a tensor gradient of the chapter may run a backward pass through the loss's kept graph (then this
        backward pass must keep it: `retain_graph=True`)."""
        made = {n for s in g.slice for n in ir.bound_names(s)}
        return self.graph_kept(g) and any((reads(h.y) | reads(h.slice)) & made for h in self.all_grads)

    def backward_key(self, g: ir.ParamGrad) -> tuple | None:
        """What a backward pass of this loss is (a loss held by a name only: an expression is a new graph each time)."""
        return (g.param.root.name, g.y.name, tuple(id(s) for s in g.slice)) if isinstance(g.y, ir.Var) else None

    def graph_freed(self, g: ir.ParamGrad) -> None:
        """A backward pass of `g`'s loss ran: no kept graph stands (its own is freed, or kept for a tensor gradient only)."""
        self.__dict__.setdefault("kept_stmts", set()).clear()
        self.last_backward = self.backward_key(g)
