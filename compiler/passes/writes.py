"""The names a statement binds: what a slice recomputed after it can no longer trust."""
from __future__ import annotations

from d2lc.core import ir


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
