"""What every backend's gradient emission shares: the runs a grad records in place, the backward passes
later grads may read, and the element writes a gradient differentiates through.

A backend implements `grad` (and `records_inplace`/`record` where it records a run where it stands);
the rest here are questions those hooks ask."""
from __future__ import annotations

from functools import cached_property

import libcst as cst

from d2lc.core import ir
from d2lc.passes.analysis import differentiated_writes, grads_in


class Gradients:
    """Gradient hooks (backends override `grad`, `records_inplace`, `record`) and the facts they read."""

    module: ir.Module

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        self.unsupported(g, "this target declares no gradient emission")
        raise AssertionError

    def records_inplace(self, g: ir.Grad) -> bool:
        """Whether this backend records the grad's slice where it stands (see `record`)."""
        return False

    def record(self, g: ir.Grad, run: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        """Emit the slice `run` where it stands, prepared for differentiation (a tape, requires_grad_)."""
        return run

    def slice_code(self, g: ir.Grad) -> list[cst.BaseStatement]:
        out: list[cst.BaseStatement] = []
        for s in g.slice:
            out.extend(self.stmt(s))
        return out

    def recorded_value(self, g: ir.Grad, run: list[cst.BaseStatement], scratch=None) -> cst.BaseExpression:
        """y as code; an expression y is computed inside the recording too, as `value = ...` at the end of `run`."""
        y = self.expr(g.y)
        if isinstance(g.y, ir.Var):
            return y
        name = (scratch or self.scratch)("value")
        run.append(self.assign(name, y))
        return cst.Name(name)

    def writes_functionally(self, s: ir.IndexAssign) -> bool:
        """Whether this element write makes a new tensor (JAX always; others where a gradient reads it)."""
        return self.backend.functional_updates

    def differentiated(self, s: ir.IndexAssign) -> bool:
        """Whether a gradient differentiates through this element write (see passes.differentiated_writes)."""
        return id(s) in self.differentiated_ids

    @cached_property
    def differentiated_ids(self) -> set[int]:
        return differentiated_writes(self.module)

    def joined_wrts(self, g: ir.Grad) -> list[str]:
        """The variables of later grads that read g's backward pass (see passes.shared_backward), in order."""
        return [h.wrt.name for h in self.all_grads if self.shared_backward.get(id(h)) is g]

    @cached_property
    def all_grads(self) -> list[ir.Grad]:
        return [e for st in ir.walk_stmts(list(self.module.stmts())) for e in grads_in(st)]

    def reads_earlier_backward(self, g: ir.Grad) -> bool:
        """Whether g's gradient is already in `.grad` from the backward pass of the grad just before it."""
        root = self.shared_backward.get(id(g))
        return root is not None and id(root) in self.recorded

    def kept_grad(self, g: ir.Grad, buffer: cst.BaseExpression) -> cst.BaseExpression:
        """`buffer` (x.grad), or a name holding it when a later gradient of the same statement refills x.grad."""
        if not self.grad_again_later(g):
            return buffer
        name = self.fresh(f"{g.wrt.name}_grad")
        self.pre.append(self.assign(name, buffer))
        return cst.Name(name)

    def grad_again_later(self, g: ir.Grad) -> bool:
        """Whether the statement being emitted takes another gradient with respect to g's variable after g
        (then a target that reads gradients from `x.grad` must keep g's before the next backward pass)."""
        s = self.current_stmt
        if s is None or isinstance(s, (ir.For, ir.If, ir.FuncDef)):
            return False
        grads = grads_in(s)
        i = next((k for k, h in enumerate(grads) if h is g), None)
        return i is not None and any(h.wrt.name == g.wrt.name for h in grads[i + 1:])
