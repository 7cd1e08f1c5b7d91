"""Bounding how deeply a cell's expressions and blocks nest.

Lowering, the passes, the emitters, libcst and black all recurse over expressions, and Python itself
refuses more than 200 nested brackets or 100 indentation levels, so a cell nested deeper than the
limits below is rejected here with a clear error instead of failing later with a RecursionError or
emitting Python that does not parse. The walk itself is iterative. The emitters take about ten Python frames per
level, more than Python's default limit of 1000 allows at 100 levels, so notebook assembly raises that limit while
it emits (`build/notebook.py`).
"""
from __future__ import annotations

from dataclasses import fields

from d2lc.front import ast as A
from d2lc.core.diagnostics import Diagnostic, Loc

MAX_EXPR_DEPTH = 100  # operands, arguments, items and chained calls/methods/indexes, counted one per level
MAX_BLOCK_DEPTH = 40  # def/model/for/if blocks inside one another

BLOCKS = (A.FuncDef, A.ModelDef, A.For, A.If)
STATEMENTS = (A.Assign, A.AugAssign, A.ExprStmt, A.Return, A.Pass, A.Jump) + BLOCKS


def _children(node: object) -> list[object]:
    """The AST nodes directly inside `node` (lists flattened), in source order."""
    out: list[object] = []
    for f in fields(node):
        v = getattr(node, f.name)
        for item in (v if isinstance(v, list) else [v]):
            if isinstance(item, (A.Node, A.Keyword)):
                out.append(item)
    return out


def _is_elif(node: object, parent: object) -> bool:
    return isinstance(node, A.If) and isinstance(parent, A.If) and parent.orelse == [node]


def check_depth(stmts: list[A.Node]) -> Diagnostic | None:
    """An error for the first statement of a cell that nests past the limits, or None."""
    stack: list[tuple[object, int, int, object]] = [(s, 0, 0, None) for s in reversed(stmts)]
    statement: A.Node | None = None
    deepest = 0
    while stack:
        node, expr_depth, block_depth, parent = stack.pop()
        if isinstance(node, STATEMENTS):
            if deepest > MAX_EXPR_DEPTH:
                return _too_deep(statement, deepest)
            statement, deepest, expr_depth = node, 0, 0
        if isinstance(node, BLOCKS) and not _is_elif(node, parent):  # `elif` adds no indentation
            block_depth += 1
            if block_depth > MAX_BLOCK_DEPTH:
                return Diagnostic(Loc(node.loc.file, node.loc.line, node.loc.col), "blocks nested too deeply",
                                  expected=f"at most {MAX_BLOCK_DEPTH} `def`, `model`, `for` or `if` blocks inside one another",
                                  hint="move the inner blocks into a function defined with `def`")
        elif isinstance(node, A.Node) and not isinstance(node, STATEMENTS) and not (
                isinstance(node, A.Attribute) and isinstance(parent, A.Call) and parent.func is node):
            expr_depth += 1  # x.f(...) counts as one level, not two
            deepest = max(deepest, expr_depth)
        stack.extend((c, expr_depth, block_depth, node) for c in reversed(_children(node)))
    return _too_deep(statement, deepest) if deepest > MAX_EXPR_DEPTH else None


def _too_deep(statement: A.Node, depth: int) -> Diagnostic:
    loc = statement.loc
    return Diagnostic(Loc(loc.file, loc.line, loc.col), f"expression nested too deeply ({depth} levels)",
                      expected=f"at most {MAX_EXPR_DEPTH} levels of nested operands, calls or brackets "
                               "(a chain a + b + c + ... counts one level per operator)",
                      hint="split the expression into several statements with intermediate variables")
