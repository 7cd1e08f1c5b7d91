"""What every target's optimizer rules share: an optimizer's arguments with the language's defaults.

The language's optimizers are PyTorch's update rules (docs/dsl.md, "Training"); each target spells them in
targets/<fw>/optimizers.py with its framework's own optimizer, choosing the option that gives the same formula, or
a small subclass of it (a helper snippet) where no option does.
"""
from __future__ import annotations

from d2lc.core import ir
from d2lc.core.layers import OPTIMIZERS
from d2lc.core.ops import REQUIRED
from d2lc.core.types import FLOAT, INT


def value(c: ir.Construct, name: str, specs: dict = OPTIMIZERS) -> ir.Expr:
    """The argument `name` as the author gave it, else the language's default (a constant) from `specs`, the
    construct's table (core/layers.py: OPTIMIZERS, SCHEDULES)."""
    v = c.args.get(name)
    if v is not None:
        return v
    default = next(p.default for p in specs[c.kind] if p.name == name)
    assert default is not REQUIRED, (c.kind, name)
    return ir.Const(INT if isinstance(default, int) else FLOAT, c.loc, default)


def given(c: ir.Construct, name: str) -> ir.Expr | None:
    """The argument `name` where the author gave it, else None."""
    return c.args.get(name)


def nonzero(c: ir.Construct, name: str) -> ir.Expr | None:
    """The argument `name` unless it is absent or the constant 0 (momentum, weight decay: off)."""
    v = c.args.get(name)
    return None if v is None or isinstance(v, ir.Const) and v.value == 0 else v


__all__ = ["value", "given", "nonzero"]
