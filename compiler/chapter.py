"""Reading a chapter: Markdown prose and ```d2l fenced code cells, with `::: only TARGET` blocks."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .diagnostics import Diagnostic, Loc

FENCE_RE = re.compile(r"^(```+|~~~+)\s*([A-Za-z0-9_+-]*)\s*$")
ONLY_RE = re.compile(r"^:::\s*only\s+(.*?)\s*$")
END_ONLY_RE = re.compile(r"^:::\s*$")


@dataclass
class RawCell:
    kind: str  # "markdown" | "code"
    text: str
    line: int  # 1-based line of the cell's first line in the file
    only: tuple[str, ...] | None = None


def split_chapter(text: str, file: str, known_targets: set[str]) -> tuple[list[RawCell], list[Diagnostic], str]:
    """Split a chapter into raw cells; returns (cells, diagnostics, title)."""
    lines = text.splitlines()
    cells: list[RawCell] = []
    diags: list[Diagnostic] = []
    prose: list[str] = []
    prose_start = 1
    only: tuple[str, ...] | None = None
    only_line = 0
    title = ""
    i = 0

    def flush_prose() -> None:
        nonlocal prose
        while prose and not prose[0].strip():
            prose.pop(0)
        while prose and not prose[-1].strip():
            prose.pop()
        if prose:
            cells.append(RawCell("markdown", "\n".join(prose), prose_start, only))
        prose = []

    while i < len(lines):
        line = lines[i]
        m_only = ONLY_RE.match(line)
        if m_only:
            flush_prose()
            if only is not None:
                diags.append(Diagnostic(Loc(file, i + 1, 1), "nested `::: only` block",
                                        expected="`:::` closing the block opened on line %d" % only_line))
            names = tuple(m_only.group(1).replace(",", " ").split())
            for n in names:
                if n not in known_targets:
                    col = line.index(n) + 1
                    from .diagnostics import did_you_mean
                    diags.append(Diagnostic(Loc(file, i + 1, col, col + len(n)), f"unknown target `{n}` in `::: only`",
                                            expected="one of: " + ", ".join(sorted(known_targets)),
                                            hint=did_you_mean(n, known_targets)))
            only, only_line = names, i + 1
            i += 1
            prose_start = i + 1
            continue
        if END_ONLY_RE.match(line) and only is not None:
            flush_prose()
            only = None
            i += 1
            prose_start = i + 1
            continue
        m = FENCE_RE.match(line)
        if m and m.group(2) == "d2l":
            flush_prose()
            fence = m.group(1)
            start = i + 1
            j = start
            while j < len(lines) and not lines[j].startswith(fence):
                j += 1
            if j == len(lines):
                diags.append(Diagnostic(Loc(file, i + 1, 1, 1 + len(line)), "unterminated code cell",
                                        expected=f"a closing {fence} line", hint="close the ```d2l block"))
            cells.append(RawCell("code", "\n".join(lines[start:j]), start + 1, only))
            i = j + 1
            prose_start = i + 1
            continue
        if m and m.group(2):  # another language's fence: keep it verbatim as prose
            fence = m.group(1)
            if not prose:
                prose_start = i + 1
            prose.append(line)
            i += 1
            while i < len(lines):
                prose.append(lines[i])
                if lines[i].startswith(fence):
                    i += 1
                    break
                i += 1
            continue
        if not title and line.startswith("# "):
            title = line[2:].strip()
        if not prose:
            prose_start = i + 1
        prose.append(line)
        i += 1
    flush_prose()
    if only is not None:
        diags.append(Diagnostic(Loc(file, only_line, 1), "unclosed `::: only` block", expected="a line with `:::`",
                                hint="close target-only prose with `:::`"))
    return cells, diags, title
