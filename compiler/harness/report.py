"""Showing a run: a progress bar while it runs, then the function × target matrix (text, Markdown, JSON)."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import IO, Any

from d2lc.harness.results import ERROR, FAIL, KNOWN, PASS, SKIP, Cell, RunResult


class Progress:
    """A one-line progress bar on stderr (a line per 10% when stderr is not a terminal)."""

    def __init__(self, stream: IO[str] | None = None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()
        self._last_decile = -1

    def __call__(self, i: int, n: int, label: str) -> None:
        frac = i / n if n else 1.0
        filled = int(frac * self.width)
        bar = "#" * filled + "." * (self.width - filled)
        text = f"[{bar}] {i}/{n} {time.perf_counter() - self.t0:5.0f}s {label}"
        if self.tty:
            self.stream.write("\r\033[K" + text[:120] + ("\n" if i >= n else ""))
            self.stream.flush()
        elif int(frac * 10) != self._last_decile or i >= n:
            self._last_decile = int(frac * 10)
            self.stream.write(text + "\n")
            self.stream.flush()


def _err(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def cell_text(c: Cell, reference: bool = False) -> str:
    s = c.status
    if s in (PASS, FAIL) and c.compared and not (reference and s == PASS):
        return f"{s} {_err(c.max_abs)}/{_err(c.max_rel)}"
    return s


def _rows(result: RunResult) -> list[tuple[str, list[str]]]:
    out = []
    for r in result.rows:
        name = f"{Path(r.chapter).stem}:{r.label}"
        out.append((name, [cell_text(r.cells[t], t == result.reference) for t in result.targets]))
    return out


def text_matrix(result: RunResult) -> str:
    """The matrix for a terminal; each cell is status and max abs/rel error."""
    rows = _rows(result)
    heads = [t + (" (ref)" if t == result.reference else "") for t in result.targets]
    w0 = max([len("function")] + [len(n) for n, _ in rows])
    widths = [max([len(h)] + [len(cells[i]) for _, cells in rows]) for i, h in enumerate(heads)]
    lines = ["  ".join(["function".ljust(w0)] + [h.ljust(w) for h, w in zip(heads, widths)])]
    lines.append("  ".join(["-" * w0] + ["-" * w for w in widths]))
    for name, cells in rows:
        lines.append("  ".join([name.ljust(w0)] + [c.ljust(w) for c, w in zip(cells, widths)]).rstrip())
    return "\n".join(lines)


def summary_line(result: RunResult) -> str:
    c = result.counts()
    t = result.timings.get("total_s", 0.0)
    parts = [f"{c[PASS]} pass", f"{c[FAIL]} FAIL", f"{c[ERROR]} error", f"{c[KNOWN]} known", f"{c[SKIP]} skip"]
    if result.chapter_errors:
        parts.append(f"{len(result.chapter_errors)} chapter(s) do not compile")
    return (f"d2lc test: {len(result.rows)} rows x {len(result.targets)} targets: " + ", ".join(parts)
            + f" in {t:.1f}s (seed {result.seed}, {result.examples} examples, device {result.device})")


def markdown(result: RunResult) -> str:
    heads = [t + (" (ref)" if t == result.reference else "") for t in result.targets]
    lines = ["# d2lc equivalence report", "", summary_line(result), "", "## Targets", ""]
    for t in result.targets:
        lines.append(f"- **{t}**: {result.target_notes.get(t, '')}")
    if result.chapter_errors:
        lines += ["", "## Chapters that do not compile", ""]
        lines += [f"- `{p}`: {m}" for p, m in result.chapter_errors.items()]
    lines += ["", "## Matrix", "", "Cells: status, then max abs / max rel error against the reference.", "",
              "| function | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    for name, cells in _rows(result):
        lines.append(f"| `{name}` | " + " | ".join(c.replace("FAIL", "**FAIL**") for c in cells) + " |")
    problems = [(r, t, c) for r in result.rows for t, c in r.cells.items() if c.status in (FAIL, ERROR)]
    if problems:
        lines += ["", "## Failures and errors", ""]
        for r, t, c in problems:
            lines.append(f"- `{Path(r.chapter).stem}:{r.label}` on **{t}** ({c.status}): {c.message}")
            if c.replay:
                lines.append(f"  - replay: `{c.replay}`")
    known = [(r, t, c) for r in result.rows for t, c in r.cells.items() if c.status == KNOWN]
    if known:
        lines += ["", "## Known divergences (listed, not counted as failures)", ""]
        lines += [f"- `{Path(r.chapter).stem}:{r.label}` on **{t}**: {c.known} (this run: {c.message})" for r, t, c in known]
    notes = [(r, n) for r in result.rows for n in r.notes]
    if notes:
        lines += ["", "## Notes", ""] + [f"- `{Path(r.chapter).stem}:{r.label}`: {n}" for r, n in notes]
    return "\n".join(lines) + "\n"


def to_json(result: RunResult) -> dict[str, Any]:
    return {
        "seed": result.seed, "examples": result.examples, "device": result.device, "reference": result.reference,
        "targets": {t: result.target_notes.get(t, "") for t in result.targets},
        "counts": result.counts(), "ok": result.ok, "timings": result.timings,
        "target_timing": {t: vars(v) for t, v in result.target_timing.items()},
        "chapter_errors": result.chapter_errors,
        "rows": [{
            "chapter": r.chapter, "function": r.row.function, "wrt": r.row.wrt, "label": r.label, "notes": r.notes,
            "cells": {t: {"status": c.status, "examples": c.compared, "max_abs": c.max_abs, "max_rel": c.max_rel,
                          "message": c.message, "skipped": c.skipped, "known": c.known, "npz": c.npz, "replay": c.replay}
                      for t, c in r.cells.items()},
        } for r in result.rows],
    }


def write_report(result: RunResult, base: Path) -> tuple[Path, Path]:
    """FILE.json and FILE.md next to each other (a .json/.md suffix on FILE is dropped first)."""
    if base.suffix in (".json", ".md"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    js, md = base.with_name(base.name + ".json"), base.with_name(base.name + ".md")
    js.write_text(json.dumps(to_json(result), indent=2, default=str) + "\n", encoding="utf-8")
    md.write_text(markdown(result), encoding="utf-8")
    return js, md
