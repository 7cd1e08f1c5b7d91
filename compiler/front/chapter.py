"""Reading a chapter: Markdown prose and ```d2l fenced code cells, with `::: only TARGET` blocks."""
from __future__ import annotations

import re
from dataclasses import dataclass

from d2lc.core.diagnostics import Diagnostic, Loc, did_you_mean

FENCE_RE = re.compile(r"^(```+|~~~+)\s*([A-Za-z0-9_+-]*)((?:\s+[A-Za-z0-9_-]+)*)\s*$")
CELL_TAGS = {"parameters"}  # ```d2l parameters: a notebook's parameters cell (papermill convention)
OTHER_FENCE_RE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")  # any CommonMark fence opener
ONLY_RE = re.compile(r"^:::\s*only(?![A-Za-z0-9_])\s*(.*?)\s*$")
END_ONLY_RE = re.compile(r"^:::\s*$")


@dataclass
class RawCell:
    kind: str  # "markdown" | "code"
    text: str
    line: int  # 1-based line of the cell's first line in the file
    only: tuple[str, ...] | None = None
    tags: tuple[str, ...] = ()


def split_chapter(text: str, file: str, known_targets: set[str]) -> tuple[list[RawCell], list[Diagnostic], str]:
    """Split a chapter into raw cells; returns (cells, diagnostics, title)."""
    lines = text.removeprefix("\ufeff").splitlines()  # a byte-order mark is not part of the first line
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
                diags.append(Diagnostic(Loc(file, i + 1, 1, 1 + len(line.rstrip())), "nested `::: only` block",
                                        expected="`:::` closing the block opened on line %d" % only_line,
                                        hint="close the first block with a `:::` line before opening another"))
            names = tuple(m_only.group(1).replace(",", " ").split())
            if not names:
                diags.append(Diagnostic(Loc(file, i + 1, 1, 1 + len(line.rstrip())), "`::: only` names no target",
                                        expected="one or more of: " + ", ".join(sorted(known_targets)),
                                        hint="write the targets after `only`, e.g. `::: only pytorch jax`"))
            for n, m_name in _names_with_columns(line, m_only.start(1)):
                if n not in known_targets:
                    col = m_name + 1
                    diags.append(Diagnostic(Loc(file, i + 1, col, col + len(n)), f"unknown target `{n}` in `::: only`",
                                            expected="one of: " + ", ".join(sorted(known_targets)),
                                            hint=did_you_mean(n, known_targets) or "`d2lc targets` lists the installed targets"))
            if only is None:
                only_line = i + 1  # a nested opener is reported above; the outer block stays open
            only = names
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
            closing = re.compile(r"^%s{%d,}\s*$" % (re.escape(fence[0]), len(fence)))
            # A cell ends at its closing fence; an opening fence (```d2l, ```python) inside it means
            # the closing fence was forgotten, so the cell stops there and that fence opens the next block.
            while j < len(lines) and not closing.match(lines[j]) and not _opens_fence(lines[j]):
                j += 1
            tags = tuple(m.group(3).split())
            for tag in tags:
                if tag not in CELL_TAGS:
                    at = line.index(tag, m.end(2)) + 1  # after the info string: a tag `d` is not the d of d2l
                    diags.append(Diagnostic(Loc(file, i + 1, at, at + len(tag)),
                                            f"unknown cell tag `{tag}`", expected="one of: " + ", ".join(sorted(CELL_TAGS)),
                                            hint="write ```d2l parameters for the cell holding a notebook's parameters"))
            if j < len(lines) and closing.match(lines[j]):
                cells.append(RawCell("code", "\n".join(lines[start:j]), start + 1, only, tags))
                i = j + 1
            else:
                later = f" (the next fenced block starts on line {j + 1})" if j < len(lines) else ""
                diags.append(Diagnostic(Loc(file, i + 1, 1, 1 + len(line)), "unterminated code cell",
                                        expected=f"a closing {fence} line",
                                        hint=f"add a {fence} line after the cell's code{later}"))
                body = _code_part(lines[start:j], file, start + 1)
                cells.append(RawCell("code", body, start + 1, only, tags))
                i = j
            prose_start = i + 1
            continue
        other = OTHER_FENCE_RE.match(line)
        if other and not (other.group(2)[0] == "`" and "`" in other.group(3)):
            # Another language's fenced block (or a bare one), kept verbatim as prose. It ends as in
            # CommonMark: at a line of the same fence character, at least as long, with nothing after it.
            if not prose:
                prose_start = i + 1
            i = _other_block(lines, i, other.group(2), file, prose, diags)
            continue
        if not title and line.startswith("# "):
            title = line[2:].strip()
        if not prose:
            prose_start = i + 1
        prose.append(line)
        i += 1
    flush_prose()
    if only is not None:
        opener = lines[only_line - 1].rstrip()
        diags.append(Diagnostic(Loc(file, only_line, 1, 1 + len(opener)), "unclosed `::: only` block",
                                expected="a line with `:::`", hint="add a `:::` line where the target-only text ends"))
    return cells, diags, title


def _other_block(lines: list[str], start: int, fence: str, file: str, prose: list[str],
                 diags: list[Diagnostic]) -> int:
    """Append a non-d2l fenced block opened on lines[start] to `prose`; returns the index after it.

    A ```d2l line inside it that the block's own fence could have closed, or no closing fence before
    the end of the file, is an error: in CommonMark the block would silently swallow the d2l cells after it."""
    closing = re.compile(r"^ {0,3}%s{%d,}\s*$" % (re.escape(fence[0]), len(fence)))
    opener = lines[start].strip()
    prose.append(lines[start])
    i = start + 1
    while i < len(lines):
        prose.append(lines[i])
        if closing.match(lines[i]):
            return i + 1
        m = FENCE_RE.match(lines[i])
        if m and m.group(2) == "d2l" and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
            # (a longer fence, or the other fence character, shows d2l source on purpose)
            diags.append(Diagnostic(Loc(file, i + 1, 1, 1 + len(lines[i].rstrip())),
                                    f"a ```d2l cell inside the {opener} block opened on line {start + 1}",
                                    expected=f"a closing {fence} line before this cell",
                                    hint=f"close the block opened on line {start + 1} with a {fence} line"))
        i += 1
    diags.append(Diagnostic(Loc(file, start + 1, 1, 1 + len(lines[start].rstrip())), f"unclosed {opener} block",
                            expected=f"a closing {fence} line", hint=f"add a {fence} line where the block ends"))
    return i


def decode_chapter(data: bytes, file: str) -> tuple[str | None, Diagnostic | None]:
    """A chapter file's text (UTF-8, a leading byte-order mark dropped), or an error at the first bad byte."""
    try:
        return data.decode("utf-8").removeprefix("\ufeff"), None
    except UnicodeDecodeError as exc:
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[line_start:exc.start].decode("utf-8", "replace")) + 1
        line = data.count(b"\n", 0, exc.start) + 1
        return None, Diagnostic(Loc(file, line, col), f"this file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                                expected="UTF-8 text",
                                hint="save the chapter as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.md > out.md`")


def _opens_fence(line: str) -> bool:
    m = FENCE_RE.match(line)
    return bool(m and m.group(2))


def _code_part(lines: list[str], file: str, first_line: int) -> str:
    """The code of an unterminated cell: all of it if it parses, else the lines before its first blank line
    (prose usually follows), else nothing, so that the prose swallowed by the cell does not produce
    a cascade of syntax errors after the `unterminated code cell` one."""
    from d2lc.front.parser import parse_cell
    text = "\n".join(lines)
    if parse_cell(text, file, first_line)[0] is not None:
        return text
    head = []
    for ln in lines:
        if not ln.strip():
            break
        head.append(ln)
    text = "\n".join(head)
    if head and parse_cell(text, file, first_line)[0] is not None:
        return text
    return ""


def _names_with_columns(line: str, start: int) -> list[tuple[str, int]]:
    """The target names of a `::: only` line with their 0-based columns."""
    return [(m.group(0), start + m.start()) for m in re.finditer(r"[^\s,]+", line[start:])]
