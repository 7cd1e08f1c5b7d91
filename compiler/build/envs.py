"""Where each backend's environment lives, and whether its framework is importable there."""
from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from pathlib import Path

from d2lc.emit.backend import Backend

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_DIRS = {"main": ".venv", "mxnet": ".venv-mxnet"}


def env_dir(name: str, root: Path = REPO_ROOT) -> Path:
    """The virtual environment of an environment name; D2LC_ENV_<NAME> overrides it."""
    override = os.environ.get(f"D2LC_ENV_{name.upper()}")
    return Path(override) if override else root / ENV_DIRS.get(name, f".venv-{name}")


def python_for(backend: Backend, root: Path = REPO_ROOT) -> Path | None:
    """The python that runs this backend's code, or None when its environment is missing."""
    exe = env_dir(backend.environment.name, root) / "bin" / "python"
    return exe if exe.exists() else None


@lru_cache(maxsize=None)
def framework_available(python: str, packages: tuple[str, ...]) -> bool:
    code = "import importlib.util, sys; sys.exit(0 if all(importlib.util.find_spec(p) for p in sys.argv[1:]) else 1)"
    return subprocess.run([python, "-c", code, *packages], capture_output=True).returncode == 0
