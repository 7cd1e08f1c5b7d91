"""MXNet's hand-written training loop: a `gluon.Trainer` over the model's parameters, and per batch the loss recorded
under `autograd.record()`, `loss.backward()` and `trainer.step(1)` (the loss is a mean already: no rescaling)."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.rules import call
from d2lc.emit.schedules import milestones, source, value, warmup
from d2lc.emit.step_loops import line, refuse_momentum, schedule_of, with_lr

from .optimizers import hyperparams, optimizer


class MXNetLoops:
    def bound_optimizer(self, b: ir.BoundOptimizer) -> cst.BaseExpression:
        sched = schedule_of(b)
        if sched is None:
            return call("gluon.Trainer", call(f"{b.net.name}.collect_params"), optimizer(self, b), hyperparams(self, b))
        refuse_momentum(self, b, "gluon")
        lr = self.expr(sched.args["lr"])
        # gluon counts updates from 1 and lowers the rate once the count passes step: lr * factor ** floor(t / step)
        if sched.kind == "StepLR":
            factor = call("mx.lr_scheduler.FactorScheduler", step=self.expr(sched.args["step_size"]),
                          factor=self.expr(value(sched, "gamma")), base_lr=lr)
        elif sched.kind == "MultiStepLR":  # once the count passes each step: the rate from update m on
            factor = call("mx.lr_scheduler.MultiFactorScheduler", step=milestones(self, sched),
                          factor=self.expr(value(sched, "gamma")), base_lr=lr)
        elif warmup(sched) is None:  # counted from 1: one step at lr ("warmup") shifts the cosine so that update t + 1 reads t / T_max
            factor = call("mx.lr_scheduler.CosineScheduler", cst.parse_expression(f"{source(self, sched.args['T_max'])} + 1"),
                          base_lr=lr, final_lr=self.expr(value(sched, "eta_min")), warmup_steps=cst.Integer("1"),
                          warmup_begin_lr=lr)
        else:  # counted from 1: a warm-up over W + 1 counts from -lr / W reads lr t / W at update t = count - 1
            w = source(self, warmup(sched))
            factor = call("mx.lr_scheduler.CosineScheduler", cst.parse_expression(f"{source(self, sched.args['T_max'])} + 1"),
                          base_lr=lr, final_lr=self.expr(value(sched, "eta_min")),
                          warmup_steps=cst.parse_expression(f"{w} + 1"), warmup_begin_lr=cst.parse_expression(f"-{source(self, sched.args['lr'])} / {w}"))
        table = hyperparams(self, with_lr(b, lr))
        table = table.with_changes(elements=[*table.elements, cst.DictElement(cst.SimpleString('"lr_scheduler"'), factor)])
        return call("gluon.Trainer", call(f"{b.net.name}.collect_params"), optimizer(self, b), table)

    def step_scale(self, s: ir.StepLoop) -> cst.BaseExpression:
        """The batch size `trainer.step` divides the gradient by: 1, since the language's losses are means."""
        return cst.Integer("1")

    def step_loop(self, s: ir.StepLoop) -> list[cst.BaseStatement]:
        record = cst.With([cst.WithItem(call("autograd.record"))], self.indented(self.loss_body(s)))
        loss = self.expr(s.value)
        step = [line(cst.Call(cst.Attribute(loss, cst.Name("backward")), [])), line(call(f"{s.opt}.step", self.step_scale(s)))]
        return self.batch_loop(s, [record, *step])
