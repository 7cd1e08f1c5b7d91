"""Diagnostics: source locations and the `file:line:col: error:` messages users see."""
from __future__ import annotations

import difflib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence


@dataclass(frozen=True)
class Loc:
    """A position in a source file (1-based line and column)."""

    file: str
    line: int
    col: int
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass
class Diagnostic:
    """One error, with what was expected and a hint for fixing it."""

    loc: Loc
    message: str
    expected: str | None = None
    hint: str | None = None
    severity: str = "error"

    def render(self, source_lines: Sequence[str] | None = None) -> str:
        out = [f"{self.loc}: {self.severity}: {self.message}"]
        if source_lines is not None and 1 <= self.loc.line <= len(source_lines):
            text = source_lines[self.loc.line - 1].rstrip("\n").expandtabs(4)
            width = 1
            if self.loc.end_col and self.loc.end_col > self.loc.col:
                width = self.loc.end_col - self.loc.col
            out.append(f"    {text}")
            out.append("    " + " " * (self.loc.col - 1) + "^" * width)
        if self.expected:
            out.append(f"  expected: {self.expected}")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


class CompileError(Exception):
    """Raised when a compile step found errors; carries every diagnostic of the file."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


@dataclass
class DiagnosticBag:
    """Collects diagnostics so a compile reports all errors of a file, not just the first."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, loc: Loc, message: str, expected: str | None = None, hint: str | None = None) -> None:
        self.items.append(Diagnostic(loc, message, expected, hint))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise CompileError(sorted(self.items, key=lambda d: (d.loc.line, d.loc.col)))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt name, or None."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.7)
    return f"did you mean `{close[0]}`?" if close else None


def print_diagnostics(errors: dict[str, list[Diagnostic]]) -> int:
    """Render each file's diagnostics on stderr, with its source lines; returns how many were printed."""
    count = 0
    for file, diags in errors.items():
        try:
            lines = Path(file).read_text(encoding="utf-8", errors="replace").removeprefix("\ufeff").splitlines()
        except OSError:
            lines = None
        for d in diags:
            print(d.render(lines), file=sys.stderr)
            print(file=sys.stderr)
            count += 1
    return count
