"""MXNet's hand-written training loop: a `gluon.Trainer` over the model's parameters, and per batch the loss recorded
under `autograd.record()`, `loss.backward()` and `trainer.step(1)` (the loss is a mean already: no rescaling)."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.rules import call
from d2lc.emit.step_loops import line

from .optimizers import hyperparams, optimizer


class MXNetLoops:
    def bound_optimizer(self, b: ir.BoundOptimizer) -> cst.BaseExpression:
        return call("gluon.Trainer", call(f"{b.net.name}.collect_params"), optimizer(self, b), hyperparams(self, b))

    def step_scale(self, s: ir.StepLoop) -> cst.BaseExpression:
        """The batch size `trainer.step` divides the gradient by: 1, since the language's losses are means."""
        return cst.Integer("1")

    def step_loop(self, s: ir.StepLoop) -> list[cst.BaseStatement]:
        record = cst.With([cst.WithItem(call("autograd.record"))], self.indented(self.loss_body(s)))
        loss = self.expr(s.value)
        step = [line(cst.Call(cst.Attribute(loss, cst.Name("backward")), [])), line(call(f"{s.opt}.step", self.step_scale(s)))]
        return self.batch_loop(s, [record, *step])
