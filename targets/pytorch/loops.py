"""PyTorch's hand-written training loop: `torch.optim.<Name>(net.parameters(), ...)`, and per batch
`optimizer.zero_grad()`, `loss.backward()`, `optimizer.step()`."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.rules import call
from d2lc.emit.schedules import cosine_factor, milestones, value
from d2lc.emit.step_loops import applied, line, schedule_of, with_lr

from .optimizers import optimizer


class PyTorchLoops:
    def bound_optimizer(self, b: ir.BoundOptimizer) -> cst.BaseExpression:
        sched = schedule_of(b)
        c = with_lr(b, self.expr(sched.args["lr"])) if sched is not None else b  # the schedule's base rate
        return applied(optimizer(self, c), call(f"{b.net.name}.parameters"))

    def emit_stmt(self, s):
        """`opt = torch.optim.SGD(...)`, then its scheduler `opt_scheduler = lr_scheduler.StepLR(opt, ...)` (CosineLR:
        a `LambdaLR` of the cosine, which stays at eta_min from T_max on, after its linear warm-up if any)."""
        if isinstance(s, ir.Assign) and isinstance(s.value, ir.BoundOptimizer) and schedule_of(s.value) is not None:
            sched = schedule_of(s.value)
            name = self.state.schedulers[s.name] = self.fresh(f"{s.name}_scheduler")
            if sched.kind == "StepLR":
                made = call("torch.optim.lr_scheduler.StepLR", cst.Name(s.name), step_size=self.expr(sched.args["step_size"]),
                            gamma=self.expr(value(sched, "gamma")))
            elif sched.kind == "MultiStepLR":
                made = call("torch.optim.lr_scheduler.MultiStepLR", cst.Name(s.name), milestones=milestones(self, sched),
                            gamma=self.expr(value(sched, "gamma")))
            else:  # CosineAnnealingLR rises again after T_max; the language's rate stays at eta_min, so a lambda
                step = self.fresh("step")
                made = call("torch.optim.lr_scheduler.LambdaLR", cst.Name(s.name), lr_lambda=cst.Lambda(
                    cst.Parameters([cst.Param(cst.Name(step))]), cosine_factor(self, sched, step)))
            return [self.assign(s.name, self.expr(s.value)), self.assign(name, made)]
        return super().emit_stmt(s)

    def step_loop(self, s: ir.StepLoop) -> list[cst.BaseStatement]:
        loss = self.expr(s.value)
        step = [line(call(f"{s.opt}.zero_grad")), line(cst.Call(cst.Attribute(loss, cst.Name("backward")), [])),
                line(call(f"{s.opt}.step"))]
        if s.opt in self.state.schedulers:  # the schedule moves once per update
            step.append(line(call(f"{self.state.schedulers[s.opt]}.step")))
        return self.batch_loop(s, [*self.loss_body(s), *step])
