"""What every target's learning-rate schedules share: a schedule's arguments with the language's defaults.

The language's schedules step once per optimizer update (docs/dsl.md, "Learning-rate schedules"); each target spells
them with its framework's scheduler in targets/<fw>/loops.py."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.core.layers import SCHEDULES
from d2lc.emit.optimizers import value as optimizer_value


def value(c: ir.Construct, name: str) -> ir.Expr:
    """The argument `name` as the author gave it, else the schedule's default."""
    return optimizer_value(c, name, SCHEDULES)


def source(em, e: ir.Expr) -> str:
    """The code of an argument, as text to build a formula from."""
    return cst.Module([]).code_for_node(em.expr(e))


def cosine_factor(em, c: ir.Construct, t: str, math: str = "math") -> cst.BaseExpression:
    """CosineLR's rate at step `t` over its base rate: the multiplier a lambda scheduler returns."""
    lr, T, low = source(em, value(c, "lr")), source(em, value(c, "T_max")), c.args.get("eta_min")
    cos = f"(1 + {math}.cos({math}.pi * min({t}, {T}) / {T})) / 2"
    if low is None or isinstance(low, ir.Const) and low.value == 0:
        return cst.parse_expression(cos)
    low_code = source(em, low)
    return cst.parse_expression(f"({low_code} + ({lr} - {low_code}) * {cos}) / {lr}")


def floor_ratio(em, c: ir.Construct) -> cst.BaseExpression | None:
    """eta_min / lr, the rate CosineLR ends at as a fraction of its base (None: 0, the default)."""
    low = c.args.get("eta_min")
    if low is None or isinstance(low, ir.Const) and low.value == 0:
        return None
    return cst.parse_expression(f"{source(em, low)} / {source(em, value(c, 'lr'))}")


__all__ = ["value", "source", "cosine_factor", "floor_ratio"]
