"""TensorFlow's hand-written training loop: a Keras optimizer, and per batch the loss recorded on a
`tf.GradientTape`, `tape.gradient(loss, net.trainable_variables)` and `optimizer.apply_gradients`."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.rules import call
from d2lc.emit.step_loops import line, refuse_momentum, schedule_of, with_lr

from d2lc.emit.schedules import floor_ratio, value

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
        else:  # the cosine from lr to alpha * lr over decay_steps, then alpha * lr
            decay = call("tf.keras.optimizers.schedules.CosineDecay", self.expr(sched.args["lr"]),
                         decay_steps=self.expr(sched.args["T_max"]), alpha=floor_ratio(self, sched))
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
