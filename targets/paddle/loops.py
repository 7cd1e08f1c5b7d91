"""PaddlePaddle's hand-written training loop: `paddle.optimizer.<Name>(..., parameters=net.parameters())`, and per
batch `loss.backward()`, `optimizer.step()`, `optimizer.clear_grad()` (Paddle adds gradients up until cleared)."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.rules import call
from d2lc.emit.step_loops import applied, line

from .optimizers import optimizer


class PaddleLoops:
    def bound_optimizer(self, b: ir.BoundOptimizer) -> cst.BaseExpression:
        return applied(optimizer(self, b), call(f"{b.net.name}.parameters"))

    def step_loop(self, s: ir.StepLoop) -> list[cst.BaseStatement]:
        loss = self.expr(s.value)
        step = [line(cst.Call(cst.Attribute(loss, cst.Name("backward")), [])), line(call(f"{s.opt}.step")),
                line(call(f"{s.opt}.clear_grad"))]
        return self.batch_loop(s, [*self.loss_body(s), *step])

    def emit_stmt(self, s):
        if isinstance(s, ir.Assign) and isinstance(s.value, ir.BoundOptimizer):
            # a gradient an earlier backward pass of the chapter left in the parameters must not join the first step
            return [self.assign(s.name, self.expr(s.value)), line(call(f"{s.name}.clear_grad"))]
        return super().emit_stmt(s)
