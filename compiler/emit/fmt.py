"""Turning libcst trees into source text: precedence parentheses, then Ruff's formatter (black's style)."""
from __future__ import annotations

from functools import lru_cache

import libcst as cst
from ruff_format import format_string

# Python operator precedence, low to high.
_BIN = {cst.BitOr: 5, cst.BitXor: 6, cst.BitAnd: 7, cst.LeftShift: 8, cst.RightShift: 8, cst.Add: 9, cst.Subtract: 9,
        cst.Multiply: 10, cst.Divide: 10, cst.FloorDivide: 10, cst.Modulo: 10, cst.MatrixMultiply: 10, cst.Power: 12}
ATOM = 14


def precedence(node: cst.BaseExpression) -> int:
    if node.lpar:
        return ATOM
    if isinstance(node, cst.BooleanOperation):
        return 1 if isinstance(node.operator, cst.Or) else 2
    if isinstance(node, cst.UnaryOperation):
        return 3 if isinstance(node.operator, cst.Not) else 11
    if isinstance(node, cst.Comparison):
        return 4
    if isinstance(node, cst.BinaryOperation):
        return _BIN[type(node.operator)]
    if isinstance(node, (cst.Lambda, cst.IfExp)):
        return 0
    return ATOM


def _paren(node: cst.BaseExpression) -> cst.BaseExpression:
    return node.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])


class AddParens(cst.CSTTransformer):
    """Adds the parentheses that operator precedence needs to trees built without them."""

    def leave_BinaryOperation(self, original, updated):
        p = _BIN[type(updated.operator)]
        left, right = updated.left, updated.right
        right_assoc = isinstance(updated.operator, cst.Power)
        if precedence(left) < p or (right_assoc and precedence(left) == p):
            left = _paren(left)
        if precedence(right) < p or (not right_assoc and precedence(right) == p):
            right = _paren(right)
        return updated.with_changes(left=left, right=right)

    def leave_UnaryOperation(self, original, updated):
        if precedence(updated.expression) < precedence(updated):
            return updated.with_changes(expression=_paren(updated.expression))
        return updated

    def leave_Comparison(self, original, updated):
        left = _paren(updated.left) if precedence(updated.left) <= 4 else updated.left
        comps = [c.with_changes(comparator=_paren(c.comparator)) if precedence(c.comparator) <= 4 else c
                 for c in updated.comparisons]
        return updated.with_changes(left=left, comparisons=comps)

    def leave_Attribute(self, original, updated):
        v = updated.value
        if precedence(v) < ATOM or isinstance(v, (cst.Integer, cst.Float)):
            return updated.with_changes(value=_paren(v))
        return updated

    def leave_Subscript(self, original, updated):
        return updated.with_changes(value=_paren(updated.value)) if precedence(updated.value) < ATOM else updated

    def leave_Call(self, original, updated):
        return updated.with_changes(func=_paren(updated.func)) if precedence(updated.func) < ATOM else updated


LINE_LENGTH = 100


def render(body: list[cst.BaseStatement], footer: tuple[str, ...] = ()) -> str:
    """Source text for statements (and the comment lines after them): parenthesised, then formatted."""
    code = statements_code(body) + "".join(line + "\n" for line in footer)  # parentheses: added as the tree was built
    if not code.strip():
        return ""
    return format_code(code)


def statements_code(body: list[cst.BaseStatement]) -> str:
    """libcst's text for a module of `body` (a module's text is its statements' texts, one after the
    other), with each helper snippet's statements generated once per process."""
    parts: list[str] = []
    run: list[cst.BaseStatement] = []
    for stmt in body:
        known = _SNIPPET_CODE.get(id(stmt))
        if known is not None and known[0] is stmt:
            if run:
                parts.append(cst.Module(body=run).code)
                run = []
            parts.append(known[1])
        else:
            run.append(stmt)
    if run:
        parts.append(cst.Module(body=run).code)
    return "".join(parts)


@lru_cache(maxsize=4096)
def format_code(code: str) -> str:
    """`code` in black's style at 100 columns (Ruff's formatter: the same text as black 26 on every cell
    of the book, at about 1% of its CPU), without the final newline; memoised by content."""
    return format_string(code, line_width=LINE_LENGTH).rstrip("\n")


# id(statement) -> (that statement, its text), for the statements parse_snippet returned; holding the
# statement keeps its id from being reused by another node.
_SNIPPET_CODE: dict[int, tuple[cst.BaseStatement, str]] = {}


@lru_cache(maxsize=None)
def parse_snippet(code: str) -> tuple[cst.BaseStatement, ...]:
    """The statements of a helper snippet, parsed once per process (libcst trees are immutable)."""
    module = cst.parse_module(code)
    for stmt in module.body:
        _SNIPPET_CODE[id(stmt)] = (stmt, cst.Module(body=[stmt]).code)
    return tuple(module.body)


def is_snippet(stmt: cst.BaseStatement) -> bool:
    """Whether `stmt` is a statement of a helper snippet (as parse_snippet gave it)."""
    known = _SNIPPET_CODE.get(id(stmt))
    return known is not None and known[0] is stmt


def clear_memos() -> None:
    """Forget the formatted code this process has memoised, so the next cell is formatted afresh
    (benchmarks measure cold runs; the parsed snippets are the compiler's own, like its imports)."""
    format_code.cache_clear()


# ---- constructors that add precedence parentheses as the tree is built (cheaper than a pass) ----
def binop(left: cst.BaseExpression, op: cst.BaseBinaryOp, right: cst.BaseExpression) -> cst.BinaryOperation:
    p = _BIN[type(op)]
    right_assoc = isinstance(op, cst.Power)
    if precedence(left) < p or (right_assoc and precedence(left) == p):
        left = _paren(left)
    if precedence(right) < p or (not right_assoc and precedence(right) == p):
        right = _paren(right)
    return cst.BinaryOperation(left, op, right)


def unary(op: cst.BaseUnaryOp, operand: cst.BaseExpression) -> cst.UnaryOperation:
    own = 3 if isinstance(op, cst.Not) else 11
    return cst.UnaryOperation(op, _paren(operand) if precedence(operand) < own else operand)


def compare(left: cst.BaseExpression, targets: list[cst.ComparisonTarget]) -> cst.Comparison:
    left = _paren(left) if precedence(left) <= 4 else left
    targets = [t.with_changes(comparator=_paren(t.comparator)) if precedence(t.comparator) <= 4 else t for t in targets]
    return cst.Comparison(left, targets)


def dotted_name(node: cst.BaseExpression) -> str | None:
    """`torch.nn.Conv2d` for a Name/Attribute chain, None for anything else (a call, a subscript)."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        inner = dotted_name(node.value)
        return f"{inner}.{node.attr.value}" if inner is not None else None
    return None


def attr(value: cst.BaseExpression, name: cst.Name) -> cst.Attribute:
    if precedence(value) < ATOM or isinstance(value, (cst.Integer, cst.Float)):
        value = _paren(value)
    return cst.Attribute(value, name)


def sub(value: cst.BaseExpression, slices) -> cst.Subscript:
    return cst.Subscript(_paren(value) if precedence(value) < ATOM else value, slices)


def parenthesize(node: cst.BaseExpression) -> cst.BaseExpression:
    """Run the precedence pass over a (small) tree, e.g. a filled-in template."""
    return node.visit(AddParens())
