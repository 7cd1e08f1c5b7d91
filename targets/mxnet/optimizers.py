"""gluon's optimizers computing the language's (PyTorch's) update rules: a `gluon.Trainer` takes the optimizer's
name and a dict of its hyperparameters.

- 'sgd': gluon keeps the velocity as -lr times PyTorch's momentum buffer (mom = momentum mom - lr (g + wd w);
  w += mom), the same trajectory for a constant learning rate; `wd` is PyTorch's L2 term in the gradient.
- 'rmsprop' and 'adagrad' add epsilon to v under the square root, PyTorch to sqrt(v): they get PyTorch's eps squared.
- 'adam' adds epsilon before v's bias correction: see d2lc.emit.optimizers.ADAM_EPSILON_CODE.
- MXNet 1.9's gluon has no AdamW (its Adam's `wd` is L2 in the gradient, not decoupled): AdamW is refused.
"""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.optimizers import ADAM_EPSILON_CODE, nonzero, sqrt_epsilon_comment, squared, value

# What the epsilon is (docs/dsl.md: Keras' and gluon's Adam add it to sqrt(v) before the bias correction)
ADAM_EPSILON = "# epsilon: PyTorch's 1e-8, scaled to the first step's bias correction (gluon adds it before the correction)"
NAMES = {"SGD": "sgd", "Adam": "adam", "RMSProp": "rmsprop", "Adagrad": "adagrad"}


def optimizer(em, c: ir.Construct) -> cst.BaseExpression:
    """The optimizer's gluon name (`'sgd'`)."""
    if c.kind not in NAMES:
        em.unsupported_construct(c.loc, f"`{c.kind}` (MXNet 1.9's gluon has no AdamW optimizer, and its Adam's `wd` adds "
                                        "weight_decay * w to the gradient instead of decaying the weights apart)")
    return cst.SimpleString(repr(NAMES[c.kind]))


def hyperparams(em, c: ir.Construct) -> cst.Dict:
    """The optimizer's hyperparameters as gluon names them, every one whose gluon default differs written."""
    items = {"learning_rate": em.expr(value(c, "lr"))}
    for ours, theirs in (("momentum", "momentum"), ("weight_decay", "wd")):
        v = nonzero(c, ours)
        if v is not None:
            items[theirs] = em.expr(v)
    if c.kind == "Adam":  # gluon adds epsilon before v's bias correction and has no option to move it (ADAM_EPSILON)
        items["epsilon"] = cst.parse_expression(ADAM_EPSILON_CODE)
    if c.kind == "RMSProp":  # gluon's gamma1 defaults to 0.9, the language's alpha to 0.99
        items["gamma1"] = em.expr(value(c, "alpha"))
        items["epsilon"] = squared(em.expr(value(c, "eps")))
    if c.kind == "Adagrad":
        items["eps"] = squared(em.expr(value(c, "eps")))
    return cst.Dict([cst.DictElement(cst.SimpleString(repr(k)), v) for k, v in items.items()])


def comment(c: ir.Construct) -> str | None:
    """The line above a `train(...)` whose optimizer's epsilon is not PyTorch's number."""
    if c.kind == "Adam":
        return ADAM_EPSILON
    return sqrt_epsilon_comment("gluon") if c.kind in ("RMSProp", "Adagrad") else None
