"""Paddle's optimizers computing the language's (PyTorch's) update rules.

- SGD: `paddle.optimizer.SGD`, or `Momentum` with a momentum (velocity = momentum velocity + g; w -= lr velocity,
  PyTorch's buffer); a float `weight_decay` is L2 added to the gradient, as PyTorch's.
- Adam places epsilon as PyTorch; `AdamW` decays the weights apart (w -= lr wd w), as PyTorch's AdamW.
- RMSProp adds epsilon to v under the square root, PyTorch to sqrt(v), and no option moves it: a small subclass
  (snippets/RMSPropEpsAfterSqrt.py), defined once per notebook, computes PyTorch's step.
- Adagrad adds epsilon to sqrt(v), as PyTorch, from an accumulator starting at 0; its default epsilon is 1e-6.
"""
from __future__ import annotations

from pathlib import Path

import libcst as cst

from d2lc.core import ir
from d2lc.emit.lambdas import capture_free_lambda
from d2lc.emit.model_code import keyword
from d2lc.emit.optimizers import nonzero, value

SNIPPETS = Path(__file__).parent / "snippets"


def optimizer(em, c: ir.Construct) -> cst.BaseExpression:
    """`lambda params: paddle.optimizer.<Name>(learning_rate=..., parameters=params, ...)`."""
    lr = keyword("learning_rate", em.expr(value(c, "lr")))
    extra: list[cst.Arg] = []
    name = "RMSPropEpsAfterSqrt" if c.kind == "RMSProp" else c.kind
    if c.kind == "SGD":
        momentum = nonzero(c, "momentum")
        if momentum is not None:
            name = "Momentum"
            extra.append(keyword("momentum", em.expr(momentum)))
    if c.kind in ("SGD", "AdamW"):
        wd = nonzero(c, "weight_decay") if c.kind == "SGD" else value(c, "weight_decay")
        extra += [keyword("weight_decay", em.expr(wd))] if wd is not None else []
    if c.kind == "RMSProp":  # Paddle's defaults: rho 0.95, epsilon 1e-6
        em.helper("RMSPropEpsAfterSqrt", (SNIPPETS / "RMSPropEpsAfterSqrt.py").read_text(encoding="utf-8"))
        extra += [keyword("rho", em.expr(value(c, "alpha"))), keyword("epsilon", em.expr(value(c, "eps")))]
    if c.kind == "Adagrad":  # Paddle's default epsilon is 1e-6
        extra.append(keyword("epsilon", em.expr(value(c, "eps"))))
    return capture_free_lambda(["params"], lambda params: cst.Call(
        cst.parse_expression(name if c.kind == "RMSProp" else f"paddle.optimizer.{name}"), [lr, keyword("parameters", params), *extra]))

