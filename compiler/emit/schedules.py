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


def warmup(c: ir.Construct) -> ir.Expr | None:
    """CosineLR's warm-up length, None when there is none (absent or a literal 0)."""
    w = c.args.get("warmup")
    return None if w is None or isinstance(w, ir.Const) and w.value == 0 else w


def minus(em, a: ir.Expr, b: ir.Expr) -> str:
    """`a - b` as code: the number itself when both are known ints (`T_max - warmup` of literals)."""
    x, y = ir.static_value(a), ir.static_value(b)
    if isinstance(x, int) and isinstance(y, int):
        return str(x - y)
    return f"({source(em, a)} - {source(em, b)})"


def cosine_factor(em, c: ir.Construct, t: str, math: str = "math") -> cst.BaseExpression:
    """CosineLR's rate at step `t` over its base rate: the multiplier a lambda scheduler returns (with a warm-up,
    `t / W` before step W, then the cosine counted from W over the T_max - W steps left)."""
    lr, T, low, w = source(em, value(c, "lr")), source(em, value(c, "T_max")), c.args.get("eta_min"), warmup(c)
    step, span = (t, T) if w is None else (f"{t} - {source(em, w)}", minus(em, value(c, "T_max"), w))
    cos = f"(1 + {math}.cos({math}.pi * min({step}, {span}) / {span})) / 2"
    if low is not None and not (isinstance(low, ir.Const) and low.value == 0):
        low_code = source(em, low)
        cos = f"({low_code} + ({lr} - {low_code}) * {cos}) / {lr}"
    if w is not None:
        cos = f"{t} / {source(em, w)} if {t} < {source(em, w)} else {cos}"
    return cst.parse_expression(cos)


def milestones(em, c: ir.Construct, shift: int = 0) -> cst.List:
    """MultiStepLR's milestones as a list, each moved by `shift` (Keras' boundaries end a segment: `m - 1`)."""
    items = []
    for m in c.args["milestones"].items:
        known = ir.static_value(m)
        if shift and isinstance(known, int):
            items.append(cst.Integer(str(known + shift)))
        else:
            items.append(cst.parse_expression(f"{source(em, m)} {'+' if shift > 0 else '-'} {abs(shift)}") if shift else em.expr(m))
    return cst.List([cst.Element(i) for i in items])


def piecewise_rates(em, c: ir.Construct) -> cst.List:
    """MultiStepLR's rate on each segment: lr, lr * gamma, lr * gamma ** 2, ..."""
    lr, g = source(em, value(c, "lr")), source(em, value(c, "gamma"))
    n = len(c.args["milestones"].items)
    rates = [lr] + [f"{lr} * {g}" if k == 1 else f"{lr} * {g} ** {k}" for k in range(1, n + 1)]
    return cst.List([cst.Element(cst.parse_expression(r)) for r in rates])


def floor_ratio(em, c: ir.Construct) -> cst.BaseExpression | None:
    """eta_min / lr, the rate CosineLR ends at as a fraction of its base (None: 0, the default)."""
    low = c.args.get("eta_min")
    if low is None or isinstance(low, ir.Const) and low.value == 0:
        return None
    return cst.parse_expression(f"{source(em, low)} / {source(em, value(c, 'lr'))}")


__all__ = ["value", "source", "warmup", "minus", "cosine_factor", "milestones", "piecewise_rates", "floor_ratio"]
