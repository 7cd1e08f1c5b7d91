"""The steps of a conformance report, and how they are shown."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Step:
    name: str
    status: str = "ok"  # ok | FAIL | skip
    summary: str = ""
    details: list[str] = field(default_factory=list)

    def fail(self, detail: str) -> None:
        self.status = "FAIL"
        self.details.append(detail)


def print_step(step: Step, out: Callable[[str], object] = print) -> None:
    out(f"{step.name:12} {step.status:5} {step.summary}")
    for d in step.details[:40]:
        out("    " + d.replace("\n", "\n    "))
    if len(step.details) > 40:
        out(f"    ... and {len(step.details) - 40} more")


def shown(p: Path) -> str:
    """A path as seen from the working folder, when it lies under it."""
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def diff(want: str, got: str) -> str:
    return "\n".join("    " + line for line in difflib.unified_diff(want.splitlines(), got.splitlines(), "expected", "emitted",
                                                                   lineterm=""))


def find_in_repo(rel: str) -> Path | None:
    """`rel` under the current folder, else under the repository d2lc was installed from."""
    if Path(rel).exists():
        return Path(rel)
    return REPO_ROOT / rel if (REPO_ROOT / rel).exists() else None
