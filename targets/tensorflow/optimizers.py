"""Keras' optimizers computing the language's (PyTorch's) update rules.

- SGD: Keras keeps the velocity as -lr times PyTorch's momentum buffer (v = momentum v - lr g; w += v), the same
  trajectory for a constant learning rate. Keras' `weight_decay` is decoupled (w -= lr wd w beside the step), which is
  PyTorch's L2 term without momentum but not with it: SGD with both momentum and weight decay is refused here.
- RMSprop and Adagrad add epsilon to v under the square root, PyTorch to sqrt(v): they get PyTorch's eps squared.
  Adagrad's accumulator starts at 0, as PyTorch's (Keras' default is 0.1).
- Adam and AdamW add epsilon before v's bias correction: see d2lc.emit.optimizers.ADAM_EPSILON_CODE.
"""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.optimizers import ADAM_EPSILON_CODE, nonzero, sqrt_epsilon_comment, squared, value
from d2lc.emit.rules import call

# The comment above a train(...) with Adam or AdamW. This epsilon is PyTorch's 1e-8 at step 1; at step t Keras' is
# sqrt((1 - 0.999) / (1 - 0.999 ** t)) of it, which changes an update only where sqrt(v_hat) is within a few orders
# of 1e-8 (docs/dsl.md).
ADAM_EPSILON = "# epsilon: PyTorch's 1e-8, scaled to the first step's bias correction (Keras adds it before the correction)"
K = "tf.keras.optimizers."


def optimizer(em, c: ir.Construct) -> cst.BaseExpression:
    """`tf.keras.optimizers.<Name>(...)`, every argument whose Keras default differs from the language's written."""
    lr = em.expr(value(c, "lr"))  # SGD's is required; Keras' RMSprop and Adagrad default to 0.001, the language to 0.01
    if c.kind == "SGD":
        momentum, wd = nonzero(c, "momentum"), nonzero(c, "weight_decay")
        if momentum is not None and wd is not None:
            em.unsupported_construct(c.loc, "`SGD` with both `momentum` and `weight_decay` (Keras decays the weights apart "
                                            "from the momentum; PyTorch's momentum accumulates weight_decay * w)")
        return call(K + "SGD", learning_rate=lr, momentum=em.expr(momentum) if momentum is not None else None,
                    weight_decay=em.expr(wd) if wd is not None else None)
    adam_epsilon = cst.parse_expression(ADAM_EPSILON_CODE)
    given_lr = em.expr(c.args["lr"]) if c.args.get("lr") is not None else None  # Keras' default is the language's 0.001
    if c.kind == "Adam":
        return call(K + "Adam", learning_rate=given_lr, epsilon=adam_epsilon)
    if c.kind == "AdamW":  # Keras' decay is decoupled, w -= lr wd w, as PyTorch's AdamW
        return call(K + "AdamW", learning_rate=given_lr, weight_decay=em.expr(value(c, "weight_decay")), epsilon=adam_epsilon)
    eps = squared(em.expr(value(c, "eps")))
    if c.kind == "RMSProp":
        return call(K + "RMSprop", learning_rate=lr, rho=em.expr(value(c, "alpha")), epsilon=eps)
    if c.kind == "Adagrad":
        return call(K + "Adagrad", learning_rate=lr, initial_accumulator_value=cst.Float("0.0"), epsilon=eps)
    raise AssertionError(c.kind)


def comment(c: ir.Construct) -> str | None:
    """The line above a `train(...)` whose optimizer's epsilon is not PyTorch's number."""
    if c.kind in ("Adam", "AdamW"):
        return ADAM_EPSILON
    return sqrt_epsilon_comment("Keras") if c.kind in ("RMSProp", "Adagrad") else None
