"""The names a statement binds: what a slice recomputed after it can no longer trust."""
from __future__ import annotations

from d2lc.core import ir
from d2lc.core.diagnostics import DiagnosticBag, Loc


def writes(stmt: ir.Stmt) -> set[str]:
    if isinstance(stmt, (ir.Assign, ir.IndexAssign, ir.Unpack)):
        return set(ir.bound_names(stmt))
    if isinstance(stmt, ir.ExprStmt) and isinstance(stmt.value, ir.Op) and stmt.value.op == "list_append" \
            and isinstance(stmt.value.args["xs"], ir.Var):
        return {stmt.value.args["xs"].name}
    if isinstance(stmt, ir.For):
        return set(stmt.loop_vars).union(*(writes(s) for s in stmt.body))
    if isinstance(stmt, ir.If):
        return set().union(set(), *(writes(s) for s in stmt.body + stmt.orelse))
    return set()


def report_rebound(bag: DiagnosticBag, loc: Loc, later: ir.Stmt, free: set[str]) -> bool:
    """Report (at the `grad` at `loc`) a name that replayed statements read and `later` rebinds; whether it did."""
    clobbered = writes(later) & free
    if not clobbered:
        return False
    name = sorted(clobbered)[0]
    bag.error(loc, f"cannot differentiate here: `{name}` changed after it was used to compute the value",
              expected=f"`{name}` to keep its value until `grad`",
              hint=f"take the gradient before reassigning `{name}`, or use a new name")
    return True

