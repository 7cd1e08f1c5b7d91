"""What every target's optimizer rules share: an optimizer's arguments with the language's defaults, the epsilon a
framework that adds it under the square root gets, and the one-line comments above a `train(...)` that say why.

The language's optimizers are PyTorch's update rules (docs/dsl.md, "Training"); each target spells them in
targets/<fw>/optimizers.py with its framework's own optimizer, choosing the option that gives the same formula.
"""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.core.layers import OPTIMIZERS
from d2lc.core.ops import REQUIRED
from d2lc.core.types import FLOAT, INT
from d2lc.emit.fmt import binop

# Keras and gluon add Adam's epsilon to sqrt(v) before v's bias correction, PyTorch after it: the emitted epsilon is
# PyTorch's at the first step (docs/dsl.md).
ADAM_EPSILON_CODE = "1e-8 * (1 - 0.999) ** 0.5"


def value(c: ir.Construct, name: str) -> ir.Expr:
    """The argument `name` as the author gave it, else the language's default (a constant)."""
    v = c.args.get(name)
    if v is not None:
        return v
    default = next(p.default for p in OPTIMIZERS[c.kind] if p.name == name)
    assert default is not REQUIRED, (c.kind, name)
    return ir.Const(INT if isinstance(default, int) else FLOAT, c.loc, default)


def given(c: ir.Construct, name: str) -> ir.Expr | None:
    """The argument `name` where the author gave it, else None."""
    return c.args.get(name)


def nonzero(c: ir.Construct, name: str) -> ir.Expr | None:
    """The argument `name` unless it is absent or the constant 0 (momentum, weight decay: off)."""
    v = c.args.get(name)
    return None if v is None or isinstance(v, ir.Const) and v.value == 0 else v


def squared(expr: cst.BaseExpression) -> cst.BaseExpression:
    """`expr ** 2`: PyTorch's epsilon, added to sqrt(v), for a framework that adds its epsilon to v under the root."""
    return binop(expr, cst.Power(), cst.Integer("2"))


def sqrt_epsilon_comment(framework: str) -> str:
    """The comment above a `train(...)` whose optimizer gets PyTorch's epsilon squared."""
    return f"# epsilon: PyTorch adds eps to sqrt(v), {framework} adds epsilon to v under the root: it gets eps ** 2"


def with_comment(code: list[cst.BaseStatement], comment: str | None) -> list[cst.BaseStatement]:
    """`code` with `comment` as a line above its first statement."""
    if comment is None or not code:
        return code
    first = code[0]
    return [first.with_changes(leading_lines=[*first.leading_lines, cst.EmptyLine(comment=cst.Comment(comment))]), *code[1:]]


__all__ = ["value", "given", "nonzero", "squared", "sqrt_epsilon_comment", "with_comment", "ADAM_EPSILON_CODE"]
