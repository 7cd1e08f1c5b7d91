"""The author's comments (ir.Comments) put on the libcst statements a DSL statement became: whole-line comments
as the leading lines of its first statement, an end-of-line comment at the end of its own first line."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.emit.fmt import is_snippet


def comment_lines(texts: tuple[str, ...]) -> list[cst.EmptyLine]:
    return [cst.EmptyLine(indent=True, comment=cst.Comment(t)) for t in texts]


def trailing(text: str) -> cst.TrailingWhitespace:
    return cst.TrailingWhitespace(cst.SimpleWhitespace("  "), cst.Comment(text))


def with_comments(pre: list[cst.BaseStatement], body: list[cst.BaseStatement],
                  comments: ir.Comments | None) -> list[cst.BaseStatement]:
    """`pre + body` with the comments on: before the first statement that is not a helper pasted for it (a
    snippet, a function or class made for it), and at the end of the first line of the statement's own code."""
    if comments is None:
        return pre + body
    before = comments.before
    if body and comments.trailing is not None:
        body = [end_of_line(body[0], comments.trailing), *body[1:]]
    elif comments.trailing is not None:
        before = (*before, comments.trailing)
    code = pre + body
    first = next((i for i, st in enumerate(code) if i >= len(pre) or not _made_for_it(st)), None)
    if before and first is not None:
        code[first] = leading(code[first], before)
    return code


def leading(st: cst.BaseStatement, texts: tuple[str, ...]) -> cst.BaseStatement:
    """`st` with whole-line comments above it (after the blank lines it already has)."""
    return st.with_changes(leading_lines=[*st.leading_lines, *comment_lines(texts)])


def end_of_line(st: cst.BaseStatement, text: str) -> cst.BaseStatement:
    """`st` with an end-of-line comment on its first line (a compound statement's header)."""
    if isinstance(st, cst.SimpleStatementLine):
        return st.with_changes(trailing_whitespace=trailing(text))
    block = getattr(st, "body", None)
    if isinstance(block, cst.IndentedBlock):
        return st.with_changes(body=block.with_changes(header=trailing(text)))
    return leading(st, (text,))


def _made_for_it(st: cst.BaseStatement) -> bool:
    return is_snippet(st) or isinstance(st, (cst.FunctionDef, cst.ClassDef))


class _MemberComments(cst.CSTTransformer):
    """Puts each member's comments on the first line of a model's code that assigns it (`self.name = ...`, or a
    flax compact method's `name = ...`)."""

    def __init__(self, todo: dict[str, ir.Comments]):
        self.todo = todo

    def leave_SimpleStatementLine(self, original, updated):
        first = updated.body[0] if updated.body else None
        targets = [t.target for t in first.targets] if isinstance(first, cst.Assign) else []
        for t in targets:
            name = t.value if isinstance(t, cst.Name) else t.attr.value if isinstance(t, cst.Attribute) \
                and isinstance(t.value, cst.Name) and t.value.value == "self" else None
            c = self.todo.pop(name, None) if name is not None else None
            if c is not None:
                return with_comments([], [updated], c)[0]
        return updated


def member_comments(code: list[cst.BaseStatement], m: ir.ModelDef) -> list[cst.BaseStatement]:
    """A model's code with its members' comments placed; those of a member no line assigns go before the class."""
    todo = {mm.name: mm.comments for mm in m.members if mm.comments is not None}
    if not todo or not code:
        return code
    placer = _MemberComments(todo)
    code = [st.visit(placer) for st in code]
    for c in todo.values():
        i = next((i for i, st in enumerate(code) if isinstance(st, cst.ClassDef)), 0)
        code[i] = leading(code[i], (*c.before, *((c.trailing,) if c.trailing else ())))
    return code
