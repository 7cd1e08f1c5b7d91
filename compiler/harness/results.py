"""What a run found: a cell per (row, target), rows per function, and the whole matrix."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from d2lc.harness.cases import Row
from d2lc.harness.strategies import Example

PASS, FAIL, SKIP, ERROR, KNOWN = "pass", "FAIL", "skip", "error", "known"


@dataclass
class Cell:
    """What one target did for one row over all examples."""

    compared: int = 0  # examples that ran and were checked
    failed: bool = False
    errored: bool = False
    skipped: str = ""  # why the target did not run this row
    max_abs: float = 0.0
    max_rel: float = 0.0
    message: str = ""
    detail: str = ""  # a traceback, when there is one
    example: Example | None = None  # the (shrunk) input of the failure
    npz: str | None = None
    replay: str | None = None
    known: str = ""  # why this FAIL or error is listed as a known divergence

    @property
    def status(self) -> str:
        if (self.failed or self.errored) and self.known:
            return KNOWN
        if self.failed:
            return FAIL
        if self.errored:
            return ERROR
        if self.skipped or not self.compared:
            return SKIP
        return PASS


@dataclass
class RowResult:
    chapter: str
    row: Row
    cells: dict[str, Cell]
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.row.label


@dataclass
class TargetTiming:
    calls: int = 0
    roundtrip_s: float = 0.0  # as the client saw it
    compute_s: float = 0.0  # the function itself, and converting its result to NumPy
    convert_s: float = 0.0  # NumPy inputs to framework tensors
    jitted: int = 0  # calls that ran through a per-signature trace (jax.jit, tf.function), not eagerly


@dataclass
class RunResult:
    seed: int
    examples: int
    device: str
    reference: str
    targets: list[str]
    target_notes: dict[str, str]  # target -> why it was skipped, or its device/versions
    rows: list[RowResult] = field(default_factory=list)
    chapter_errors: dict[str, str] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    target_timing: dict[str, TargetTiming] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {PASS: 0, FAIL: 0, SKIP: 0, ERROR: 0, KNOWN: 0}
        for r in self.rows:
            for c in r.cells.values():
                out[c.status] += 1
        return out

    @property
    def ok(self) -> bool:
        """No mismatch or error that is not known, and something was actually checked."""
        c = self.counts()
        return not c[FAIL] and not c[ERROR] and not self.chapter_errors and c[PASS] > 0

    def mark_known(self, known: dict[tuple[str, str], str]) -> list[tuple[str, str]]:
        """Mark the listed (row, target) FAILs and errors as known; returns the listed cells that now pass."""
        passing = []
        for r in self.rows:
            for target, cell in r.cells.items():
                reason = known.get((r.label, target))
                if reason is None:
                    continue
                if cell.failed or cell.errored:
                    cell.known = reason
                elif cell.status == PASS:
                    passing.append((r.label, target))
        return passing
