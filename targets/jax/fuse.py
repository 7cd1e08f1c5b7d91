"""A copy that the next statement replaces at once: `a = b.copy()` then `a = a.at[i].set(v)` is `a = b.at[i].set(v)`.

JAX arrays are immutable and `.at[].set` returns a new array, so the copy only costs a buffer; a JAX programmer
writes the update of `b` directly. Only a copy of a plain name, attribute or element is fused, where `a` is not
read by the index or the value, and where the copy's line carries no comment of its own.
"""
from __future__ import annotations

import libcst as cst
import libcst.matchers as m


def fuse_copy_then_set(stmts: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
    """`stmts` with each `a = b.copy()` directly followed by `a = a.at[...].set(...)` written as one update of `b`."""
    out: list[cst.BaseStatement] = []
    for s in stmts:
        fused = _fuse(out[-1], s) if out else None
        if fused is not None:
            out[-1] = fused
        else:
            out.append(s)
    return out


def _single_assign(s: cst.BaseStatement) -> tuple[str, cst.BaseExpression] | None:
    if not (isinstance(s, cst.SimpleStatementLine) and len(s.body) == 1 and isinstance(s.body[0], cst.Assign)):
        return None
    a = s.body[0]
    if len(a.targets) != 1 or not isinstance(a.targets[0].target, cst.Name):
        return None
    return a.targets[0].target.value, a.value


def _fuse(first: cst.BaseStatement, second: cst.BaseStatement) -> cst.SimpleStatementLine | None:
    one, two = _single_assign(first), _single_assign(second)
    if one is None or two is None or one[0] != two[0] or first.trailing_whitespace.comment is not None:
        return None
    name, copy = one
    if not m.matches(copy, m.Call(func=m.Attribute(value=m.Name() | m.Attribute() | m.Subscript(), attr=m.Name("copy")), args=[])):
        return None
    update = two[1]
    at = m.Call(func=m.Attribute(value=m.Subscript(value=m.Attribute(value=m.Name(name), attr=m.Name("at"))),
                                 attr=m.Name("set")))
    if not m.matches(update, at):
        return None
    index, args = update.func.value.slice, update.args
    if any(m.findall(node, m.Name(name)) for node in [*index, *args]):
        return None
    source = copy.func.value
    at_node = update.func.value.with_changes(value=update.func.value.value.with_changes(value=source))
    new = update.with_changes(func=update.func.with_changes(value=at_node))
    return second.with_changes(body=[second.body[0].with_changes(value=new)], leading_lines=first.leading_lines)
