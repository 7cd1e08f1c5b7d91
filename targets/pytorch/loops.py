"""PyTorch's hand-written training loop: `torch.optim.<Name>(net.parameters(), ...)`, and per batch
`optimizer.zero_grad()`, `loss.backward()`, `optimizer.step()`."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.rules import call
from d2lc.emit.step_loops import applied, line

from .optimizers import optimizer


class PyTorchLoops:
    def bound_optimizer(self, b: ir.BoundOptimizer) -> cst.BaseExpression:
        return applied(optimizer(self, b), call(f"{b.net.name}.parameters"))

    def step_loop(self, s: ir.StepLoop) -> list[cst.BaseStatement]:
        loss = self.expr(s.value)
        step = [line(call(f"{s.opt}.zero_grad")), line(cst.Call(cst.Attribute(loss, cst.Name("backward")), [])),
                line(call(f"{s.opt}.step"))]
        return self.batch_loop(s, [*self.loss_body(s), *step])
