"""Finding the python interpreter of each backend environment ("main", "mxnet", ...)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _bin(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def python_for(env_name: str, root: Path | None = None) -> str | None:
    """The interpreter for an environment, or None if it is not installed.

    `D2LC_PYTHON_<NAME>` overrides; "main" is the interpreter running d2lc; any other name is
    looked up as `.venv-<name>` in the current folder and then in the repository root.
    """
    override = os.environ.get(f"D2LC_PYTHON_{env_name.upper()}")
    if override:
        return override
    if env_name == "main":
        return sys.executable
    for base in [Path.cwd(), root or REPO_ROOT]:
        candidate = _bin(base / f".venv-{env_name}")
        if candidate.exists():
            return str(candidate)
    return None
