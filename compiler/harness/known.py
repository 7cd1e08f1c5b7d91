"""Known divergences between frameworks: data files with a reason per row, read by `d2lc test` and by pytest.

A file holds one line per divergence, `row | target | reason` (blank lines and `#` comments
ignored). `d2lc test` reports a listed FAIL or error as `known`, so a run fails only on something
new. The project keeps two: `tests/known_mismatches.txt` (rows of the function matrix, such as
`corr2d d/dX`) and `tests/known_model_divergences.txt` (model checks, such as `LeNet grads`); a third,
`tests/known_training_divergences.txt`, lists runs of `d2lc test --same-training` (`DenseNet same-training`).
"""
from __future__ import annotations

from pathlib import Path

MISMATCHES = Path("tests") / "known_mismatches.txt"
MODEL_DIVERGENCES = Path("tests") / "known_model_divergences.txt"
TRAINING_DIVERGENCES = Path("tests") / "known_training_divergences.txt"  # `d2lc test --same-training`: `MODEL same-training`


class KnownFileError(ValueError):
    """A line of a known-divergence file is not `row | target | reason`."""


def read_known(path: Path) -> dict[tuple[str, str], str]:
    """(row, target) -> reason for every line of a known-divergence file."""
    out: dict[tuple[str, str], str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|", 2)]
        if len(parts) != 3 or not all(parts):
            raise KnownFileError(f"{path}:{number}: expected `row | target | reason`, got {line!r}")
        row, target, reason = parts
        out[(row, target)] = reason
    return out


def find_known_file(name: Path, paths: list[Path]) -> Path | None:
    """`name` (e.g. tests/known_mismatches.txt) in the nearest project folder above the chapters, or the cwd."""
    starts = [p.resolve() for p in paths] + [Path.cwd().resolve()]
    for start in starts:
        for folder in (start, *start.parents):
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None
