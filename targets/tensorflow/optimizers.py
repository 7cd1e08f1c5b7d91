"""Keras' optimizers computing the language's (PyTorch's) update rules.

- SGD: Keras keeps the velocity as -lr times PyTorch's momentum buffer (v = momentum v - lr g; w += v), the same
  trajectory for a constant learning rate. Keras' `weight_decay` is decoupled (w -= lr wd w beside the step), which is
  PyTorch's L2 term without momentum but not with it: SGD with both momentum and weight decay is refused here.
- Adam and AdamW: Keras adds epsilon to sqrt(v) before v's bias correction, RMSprop and Adagrad add it to v under
  the square root; no option moves it, so each is a small subclass whose `update_step` is the language's formula
  (snippets/BiasCorrectedAdam.py, RMSpropEpsAfterSqrt.py, AdagradEpsAfterSqrt.py), defined once per notebook.
  Adagrad's accumulator starts at 0, as PyTorch's (Keras' default is 0.1).
"""
from __future__ import annotations

from pathlib import Path

import libcst as cst

from d2lc.core import ir
from d2lc.emit.optimizers import nonzero, value
from d2lc.emit.rules import call

K = "tf.keras.optimizers."
SNIPPETS = Path(__file__).parent / "snippets"
# the language's optimizer -> (the helper that defines its class, the class)
SUBCLASSES = {"Adam": ("BiasCorrectedAdam", "BiasCorrectedAdam"), "AdamW": ("BiasCorrectedAdam", "BiasCorrectedAdamW"),
              "RMSProp": ("RMSpropEpsAfterSqrt", "RMSpropEpsAfterSqrt"), "Adagrad": ("AdagradEpsAfterSqrt", "AdagradEpsAfterSqrt")}


def optimizer(em, c: ir.Construct) -> cst.BaseExpression:
    """`tf.keras.optimizers.SGD(...)` or a subclass's `Name(...)`, every argument whose Keras default differs from the
    language's written."""
    lr = em.expr(value(c, "lr"))  # SGD's is required; Keras' RMSprop and Adagrad default to 0.001, the language to 0.01
    if c.kind == "SGD":
        momentum, wd = nonzero(c, "momentum"), nonzero(c, "weight_decay")
        if momentum is not None and wd is not None:
            em.unsupported_construct(c.loc, "`SGD` with both `momentum` and `weight_decay` (Keras decays the weights apart "
                                            "from the momentum; PyTorch's momentum accumulates weight_decay * w)")
        return call(K + "SGD", learning_rate=lr, momentum=em.expr(momentum) if momentum is not None else None,
                    weight_decay=em.expr(wd) if wd is not None else None)
    helper, name = SUBCLASSES[c.kind]
    em.helper(helper, (SNIPPETS / f"{helper}.py").read_text(encoding="utf-8"))
    given_lr = em.expr(c.args["lr"]) if c.args.get("lr") is not None else None  # Keras' default is the language's 0.001
    if c.kind == "Adam":  # Keras' epsilon defaults to 1e-7, the language's to 1e-8
        return call(name, learning_rate=given_lr, epsilon=cst.Float("1e-8"))
    if c.kind == "AdamW":  # Keras' decay is decoupled, w -= lr wd w, as PyTorch's AdamW
        return call(name, learning_rate=given_lr, weight_decay=em.expr(value(c, "weight_decay")), epsilon=cst.Float("1e-8"))
    eps = em.expr(value(c, "eps"))
    if c.kind == "RMSProp":
        return call(name, learning_rate=lr, rho=em.expr(value(c, "alpha")), epsilon=eps)
    if c.kind == "Adagrad":
        return call(name, learning_rate=lr, initial_accumulator_value=cst.Float("0.0"), epsilon=eps)
    raise AssertionError(c.kind)

