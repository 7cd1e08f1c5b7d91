"""gluon's optimizers computing the language's (PyTorch's) update rules: a `gluon.Trainer` takes the optimizer's
registered name and a dict of its hyperparameters.

- 'sgd': gluon keeps the velocity as -lr times PyTorch's momentum buffer (mom = momentum mom - lr (g + wd w);
  w += mom), the same trajectory for a constant learning rate; `wd` is PyTorch's L2 term in the gradient.
- Adam: gluon adds epsilon to sqrt(v) before v's bias correction, RMSProp and AdaGrad add it to v under the square
  root; no option moves it, so each is a small registered subclass whose `update` is the language's formula
  (snippets/BiasCorrectedAdam.py, RMSPropEpsAfterSqrt.py, AdaGradEpsAfterSqrt.py), defined once per notebook.
- MXNet 1.9's gluon has no AdamW (its Adam's `wd` is L2 in the gradient, not decoupled): AdamW is refused.
"""
from __future__ import annotations

from pathlib import Path

import libcst as cst

from d2lc.core import ir
from d2lc.emit.optimizers import nonzero, value

SNIPPETS = Path(__file__).parent / "snippets"
NAMES = {"SGD": "sgd", "Adam": "BiasCorrectedAdam", "RMSProp": "RMSPropEpsAfterSqrt", "Adagrad": "AdaGradEpsAfterSqrt"}


def optimizer(em, c: ir.Construct) -> cst.BaseExpression:
    """The optimizer's gluon name (`'sgd'`), a subclass's defined before the statement."""
    if c.kind not in NAMES:
        em.unsupported_construct(c.loc, f"`{c.kind}` (MXNet 1.9's gluon has no AdamW optimizer, and its Adam's `wd` adds "
                                        "weight_decay * w to the gradient instead of decaying the weights apart)")
    name = NAMES[c.kind]
    if c.kind != "SGD":
        em.helper(name, (SNIPPETS / f"{name}.py").read_text(encoding="utf-8"))
    return cst.SimpleString(repr(name))


def hyperparams(em, c: ir.Construct) -> cst.Dict:
    """The optimizer's hyperparameters as gluon names them, every one whose gluon default differs written."""
    items = {"learning_rate": em.expr(value(c, "lr"))}
    for ours, theirs in (("momentum", "momentum"), ("weight_decay", "wd")):
        v = nonzero(c, ours)
        if v is not None:
            items[theirs] = em.expr(v)
    if c.kind == "RMSProp":  # gluon's gamma1 defaults to 0.9, the language's alpha to 0.99
        items["gamma1"] = em.expr(value(c, "alpha"))
        items["epsilon"] = em.expr(value(c, "eps"))
    if c.kind == "Adagrad":  # gluon's default is 1e-7
        items["eps"] = em.expr(value(c, "eps"))
    return cst.Dict([cst.DictElement(cst.SimpleString(repr(k)), v) for k, v in items.items()])

