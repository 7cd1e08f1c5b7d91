"""Names of the functions JAX differentiates: what their objective computes, in a few words."""
from __future__ import annotations

from d2lc.core import ir

OPERATOR_WORDS = {"add": "plus", "sub": "minus", "mul": "times", "div": "over", "matmul": "at"}


def objective_name(y: ir.Expr) -> str:
    """A function name for what `y` computes: `compute_y` for a variable, `sum_of_squares` for
    `squares.sum()`, `mean_of_v_times_w` for `(v * w).mean()`; `objective` when nothing names it."""
    if isinstance(y, ir.Var):
        return f"compute_{y.name}"
    if isinstance(y, ir.Op) and isinstance(y.args.get("x"), ir.Expr):
        words = _words(y.args["x"])
        if words:
            return f"{y.op}_of_{words}"
    return "objective"


def _words(e: ir.Expr) -> str:
    """`e` in a few words of a name (a variable, a function called, `a_times_b`), or "" when longer."""
    if isinstance(e, ir.Var):
        return e.name
    if isinstance(e, ir.CallFunc):
        return e.func
    if isinstance(e, ir.Op) and e.op in OPERATOR_WORDS and set(e.args) == {"x", "y"}:
        left, right = e.args["x"], e.args["y"]
        if isinstance(left, ir.Var) and isinstance(right, ir.Var):
            return f"{left.name}_{OPERATOR_WORDS[e.op]}_{right.name}"
    return ""
