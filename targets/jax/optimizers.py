"""optax's optimizers computing the language's (PyTorch's) update rules.

- SGD: `optax.sgd(lr, momentum=...)` keeps PyTorch's buffer (t = g + momentum t; w -= lr t); weight decay is
  `optax.add_decayed_weights` chained before it, PyTorch's L2 term added to the gradient the momentum accumulates.
- RMSProp: `optax.rmsprop(..., eps_in_sqrt=False)` adds epsilon to sqrt(v), as PyTorch.
- Adagrad: `optax.adagrad` adds epsilon to the sum of squares under the root (and starts it at 0.1), PyTorch to its
  root: `adagrad_eps_after_sqrt` (snippets/adagrad_eps_after_sqrt.py), defined once per notebook, chains a
  transformation of PyTorch's formula with `optax.scale_by_learning_rate`.
- Adam and AdamW (`optax.adamw`: w -= lr (step + wd w), PyTorch's decoupled decay) are PyTorch's formulas.
"""
from __future__ import annotations

from pathlib import Path

import libcst as cst

from d2lc.core import ir
from d2lc.emit.optimizers import given, nonzero, value
from d2lc.emit.rules import call

SNIPPETS = Path(__file__).parent / "snippets"


def optimizer(em, c: ir.Construct) -> cst.BaseExpression:
    """`optax.<name>(lr, ...)`, every argument whose optax default differs from the language's written."""
    lr = em.expr(value(c, "lr"))
    if c.kind == "SGD":
        momentum, wd = nonzero(c, "momentum"), nonzero(c, "weight_decay")
        sgd = call("optax.sgd", lr, momentum=em.expr(momentum) if momentum is not None else None)
        return call("optax.chain", call("optax.add_decayed_weights", em.expr(wd)), sgd) if wd is not None else sgd
    if c.kind == "Adam":
        return call("optax.adam", lr)
    if c.kind == "AdamW":  # optax' default weight decay is 1e-4, the language's 0.01
        return call("optax.adamw", lr, weight_decay=em.expr(value(c, "weight_decay")))
    if c.kind == "RMSProp":  # optax' default decay is 0.9, the language's alpha 0.99
        eps = given(c, "eps")
        return call("optax.rmsprop", lr, decay=em.expr(value(c, "alpha")), eps=em.expr(eps) if eps is not None else None,
                    eps_in_sqrt=cst.Name("False"))
    if c.kind == "Adagrad":
        em.helper("adagrad_eps_after_sqrt", (SNIPPETS / "adagrad_eps_after_sqrt.py").read_text(encoding="utf-8"))
        eps = given(c, "eps")  # the helper's default is the language's 1e-10
        return call("adagrad_eps_after_sqrt", lr, eps=em.expr(eps) if eps is not None else None)
    raise AssertionError(c.kind)

