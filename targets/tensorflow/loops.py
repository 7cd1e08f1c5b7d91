"""TensorFlow's hand-written training loop: a Keras optimizer, and per batch the loss recorded on a
`tf.GradientTape`, `tape.gradient(loss, net.trainable_variables)` and `optimizer.apply_gradients`."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.rules import call
from d2lc.emit.step_loops import line

from .optimizers import optimizer


class TensorFlowLoops:
    def bound_optimizer(self, b: ir.BoundOptimizer) -> cst.BaseExpression:
        return optimizer(self, b)

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
