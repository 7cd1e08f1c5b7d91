"""PaddlePaddle's hand-written training loop: `paddle.optimizer.<Name>(..., parameters=net.parameters())`, and per
batch `loss.backward()`, `optimizer.step()`, `optimizer.clear_grad()` (Paddle adds gradients up until cleared)."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.rules import call
from d2lc.emit.schedules import cosine_factor, milestones, value
from d2lc.emit.step_loops import applied, line, schedule_of, with_lr

from .optimizers import optimizer


class PaddleLoops:
    def bound_optimizer(self, b: ir.BoundOptimizer) -> cst.BaseExpression:
        name = self.state.schedulers.get(id(b))
        c = with_lr(b, cst.Name(name)) if name is not None else b  # `learning_rate=` the scheduler
        return applied(optimizer(self, c), call(f"{b.net.name}.parameters"))

    def step_loop(self, s: ir.StepLoop) -> list[cst.BaseStatement]:
        loss = self.expr(s.value)
        step = [line(cst.Call(cst.Attribute(loss, cst.Name("backward")), [])), line(call(f"{s.opt}.step")),
                line(call(f"{s.opt}.clear_grad"))]
        if s.opt in self.state.schedulers:
            step.append(line(call(f"{self.state.schedulers[s.opt]}.step")))
        return self.batch_loop(s, [*self.loss_body(s), *step])

    def scheduler(self, sched: ir.Construct) -> cst.BaseExpression:
        """`StepDecay(...)`, `MultiStepDecay(...)`; CosineLR a `LambdaDecay` of the cosine (`CosineAnnealingDecay` rises again after T_max)."""
        lr = self.expr(sched.args["lr"])
        if sched.kind == "StepLR":
            return call("paddle.optimizer.lr.StepDecay", learning_rate=lr, step_size=self.expr(sched.args["step_size"]),
                        gamma=self.expr(value(sched, "gamma")))
        if sched.kind == "MultiStepLR":
            return call("paddle.optimizer.lr.MultiStepDecay", learning_rate=lr, milestones=milestones(self, sched),
                        gamma=self.expr(value(sched, "gamma")))
        step = self.fresh("step")
        return call("paddle.optimizer.lr.LambdaDecay", learning_rate=lr, lr_lambda=cst.Lambda(
            cst.Parameters([cst.Param(cst.Name(step))]), cosine_factor(self, sched, step)))

    def emit_stmt(self, s):
        if isinstance(s, ir.Assign) and isinstance(s.value, ir.BoundOptimizer):
            # a gradient an earlier backward pass of the chapter left in the parameters must not join the first step
            made = []
            sched = schedule_of(s.value)
            if sched is not None:  # `opt_lr = paddle.optimizer.lr.StepDecay(...)`, stepped once per update
                name = self.state.schedulers[id(s.value)] = self.state.schedulers[s.name] = self.fresh(f"{s.name}_lr")
                made.append(self.assign(name, self.scheduler(sched)))
            return [*made, self.assign(s.name, self.expr(s.value)), line(call(f"{s.name}.clear_grad"))]
        return super().emit_stmt(s)
