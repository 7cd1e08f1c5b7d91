"""The author's comments in a code cell, found in its text and attached to the IR statements they belong to.

The grammar ignores comments, so they are found here, with the lexer's idea of a comment: a `#` outside a
string literal, to the end of its line. A comment on a line of its own goes before the next statement (or model
member, layer loop, append) that starts below it; an end-of-line comment goes with the statement that line
belongs to; a comment inside an open bracket goes before the statement it is written in; whole-line comments after
a cell's last statement stay after it. Every comment of the cell is attached to exactly one place.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Union

from d2lc.core import ir

Anchor = Union[ir.Stmt, ir.Member, ir.LayerAppend, ir.LayerLoop]
OPENERS, CLOSERS = "([{", ")]}"


@dataclass(frozen=True)
class SourceComment:
    line: int  # the file's line
    text: str  # `# ...`, trailing blanks dropped
    own_line: bool  # nothing but blanks before it on its line
    in_brackets: bool  # inside an open `(`, `[` or `{`


def scan_comments(text: str, first_line: int) -> list[SourceComment]:
    """The comments of a cell whose first line is `first_line` of its file, in order."""
    out: list[SourceComment] = []
    depth = 0
    for n, line in enumerate(text.splitlines()):
        quote = ""
        i = 0
        while i < len(line):
            ch = line[i]
            if quote:
                if ch == "\\":
                    i += 1
                elif ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch == "#":
                out.append(SourceComment(first_line + n, line[i:].rstrip(), not line[:i].strip(), depth > 0))
                break
            elif ch in OPENERS:
                depth += 1
            elif ch in CLOSERS:
                depth = max(0, depth - 1)
            i += 1
    return out


def anchors(stmts: list[ir.Stmt]) -> Iterator[Anchor]:
    """Every statement, model member, layer loop and layer append of a cell, outer ones first, in source order."""
    for s in stmts:
        yield s
        if isinstance(s, ir.ModelDef):
            for m in s.members:
                yield m
                if isinstance(m.value, ir.LayerList):
                    yield from _steps(m.value.steps)
            if s.forward is not None:
                yield from anchors([s.forward])
        for name in ("body", "orelse"):
            yield from anchors(getattr(s, name, None) or [])


def _steps(steps: list) -> Iterator[Anchor]:
    for st in steps:
        yield st
        if isinstance(st, ir.LayerLoop):
            yield from _steps(st.body)


def attach_comments(stmts: list[ir.Stmt], comments: list[SourceComment]) -> None:
    """Set the `comments` of the cell's statements (and members, loops, appends) from the cell's comments."""
    if not comments or not stmts:
        return
    order = sorted(enumerate(anchors(stmts)), key=lambda ia: (ia[1].loc.line, ia[0]))
    found: dict[int, tuple[Anchor, list[str], list[str], list[str]]] = {}

    def slot(a: Anchor) -> tuple[Anchor, list[str], list[str], list[str]]:
        return found.setdefault(id(a), (a, [], [], []))

    for c in comments:
        if c.own_line and not c.in_brackets:
            below = next((a for _, a in order if a.loc.line > c.line), None)
            if below is not None:
                slot(below)[1].append(c.text)
            else:  # after the cell's last statement
                slot(stmts[-1])[3].append(c.text)
            continue
        above = [a for _, a in order if a.loc.line <= c.line]
        owner = above[-1] if above else order[0][1]
        slot(owner)[1 if c.in_brackets or not above else 2].append(c.text)
    for a, before, trailing, after in found.values():
        a.comments = ir.Comments(tuple(before), "  ".join(trailing) or None, tuple(after))
