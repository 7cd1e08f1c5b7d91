"""What every target's learning-rate schedules share: a schedule's arguments with the language's defaults.

The language's schedules step once per optimizer update (docs/dsl.md, "Learning-rate schedules"); each target spells
them with its framework's scheduler in targets/<fw>/loops.py."""
from __future__ import annotations

from d2lc.core import ir
from d2lc.core.layers import SCHEDULES
from d2lc.core.ops import REQUIRED
from d2lc.core.types import FLOAT, INT


def value(c: ir.Construct, name: str) -> ir.Expr:
    """The argument `name` as the author gave it, else the language's default (a constant)."""
    v = c.args.get(name)
    if v is not None:
        return v
    default = next(p.default for p in SCHEDULES[c.kind] if p.name == name)
    assert default is not REQUIRED, (c.kind, name)
    return ir.Const(INT if isinstance(default, int) else FLOAT, c.loc, default)


__all__ = ["value"]
