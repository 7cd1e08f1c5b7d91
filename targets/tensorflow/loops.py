"""TensorFlow's hand-written training loop: a Keras optimizer, and per batch the loss recorded on a
`tf.GradientTape`, `tape.gradient(loss, net.trainable_variables)` and `optimizer.apply_gradients`."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.rules import call
from d2lc.emit.step_loops import line, refuse_momentum, schedule_of, with_lr

from d2lc.emit.schedules import floor_ratio, milestones, minus, piecewise_rates, value, warmup

from .optimizers import optimizer


class TensorFlowLoops:
    def bound_optimizer(self, b: ir.BoundOptimizer) -> cst.BaseExpression:
        sched = schedule_of(b)
        if sched is None:
            return optimizer(self, b)
        refuse_momentum(self, b, "Keras")
        # lr * gamma ** floor(iterations / step_size): the optimizer counts its updates from 0
        if sched.kind == "StepLR":
            decay = call("tf.keras.optimizers.schedules.ExponentialDecay", self.expr(sched.args["lr"]),
                         decay_steps=self.expr(sched.args["step_size"]), decay_rate=self.expr(value(sched, "gamma")),
                         staircase=cst.Name("True"))
        elif sched.kind == "MultiStepLR":  # values[i] while step <= boundaries[i]: a milestone m ends segment m - 1
            decay = call("tf.keras.optimizers.schedules.PiecewiseConstantDecay", boundaries=milestones(self, sched, -1),
                         values=piecewise_rates(self, sched))
        elif warmup(sched) is None:  # the cosine from lr to alpha * lr over decay_steps, then alpha * lr
            decay = call("tf.keras.optimizers.schedules.CosineDecay", self.expr(sched.args["lr"]),
                         decay_steps=self.expr(sched.args["T_max"]), alpha=floor_ratio(self, sched))
        else:  # from 0 up to warmup_target over warmup_steps, then the cosine over decay_steps more
            w = warmup(sched)
            decay = call("tf.keras.optimizers.schedules.CosineDecay", cst.Float("0.0"),
                         decay_steps=cst.parse_expression(minus(self, sched.args["T_max"], w)), alpha=floor_ratio(self, sched),
                         warmup_target=self.expr(sched.args["lr"]), warmup_steps=self.expr(w))
        return optimizer(self, with_lr(b, decay))

    def step_loop(self, s: ir.StepLoop) -> list[cst.BaseStatement]:
        tape = self.fresh("tape")
        grads = self.fresh("grads")
        record = cst.With([cst.WithItem(call("tf.GradientTape"), asname=cst.AsName(cst.Name(tape)))],
                          self.indented(self.loss_body(s)))
        variables = cst.parse_expression(f"{s.net.name}.trainable_variables")
        loss = self.expr(s.value)
        step = [self.assign(grads, cst.Call(cst.parse_expression(f"{tape}.gradient"), [cst.Arg(loss), cst.Arg(variables)])),
                line(call(f"{s.opt}.apply_gradients", call("zip", cst.Name(grads), variables)))]
        return self.batch_loop(s, [record, *step])
