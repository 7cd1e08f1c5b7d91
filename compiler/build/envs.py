"""Where each backend environment's python lives ("main", "mxnet", ...), and whether a framework imports there.

The one place that answers it, for the book build, the harness and the tests:
    D2LC_PYTHON_<NAME>   the interpreter itself
    D2LC_ENV_<NAME>      the virtual environment holding it
    otherwise            "main" is the interpreter running d2lc; any other name is `.venv-<name>` in the
                         working folder, then in the repository root (what scripts/envs.sh builds).
"""
from __future__ import annotations

import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

from d2lc.emit.backend import Backend

REPO_ROOT = Path(__file__).resolve().parents[2]

# Set for every process that runs generated code (harness workers, Jupyter kernels). TensorFlow 2.21's
# oneDNN CPU kernels corrupt the heap on a batched matmul with a broadcast rank-2 operand, e.g.
# `(b, n, d) @ (d, h)` in attention-scoring-functions: the process aborts with `free(): invalid next
# size` or segfaults, there or (in a long-lived worker) in a later notebook (tensorflow/tensorflow
# issues 117700 and 123109). Without oneDNN, TensorFlow uses its Eigen kernels.
FRAMEWORK_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}


def _bin(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def env_python(name: str, root: Path | None = None) -> Path | None:
    """The interpreter of environment `name`, or None when it is not installed."""
    override = os.environ.get(f"D2LC_PYTHON_{name.upper()}")
    if override:
        return Path(override)
    venv = os.environ.get(f"D2LC_ENV_{name.upper()}")
    if venv:
        exe = _bin(Path(venv))
        return exe if exe.exists() else None
    if name == "main":
        return Path(sys.executable)
    for base in (Path.cwd(), root or REPO_ROOT):
        exe = _bin(base / f".venv-{name}")
        if exe.exists():
            return exe
    return None


def python_for(backend: Backend, root: Path | None = None) -> Path | None:
    """The python that runs this backend's code, or None when its environment is missing."""
    return env_python(backend.environment.name, root)


@lru_cache(maxsize=None)
def framework_available(python: str, packages: tuple[str, ...]) -> bool:
    """Whether every one of `packages` is importable by `python` (asked once per process)."""
    code = "import importlib.util, sys; sys.exit(0 if all(importlib.util.find_spec(p) for p in sys.argv[1:]) else 1)"
    return subprocess.run([python, "-c", code, *packages], capture_output=True).returncode == 0


def install_wheel(python: Path, wheel: Path, name: str, changed: bool) -> str | None:
    """Install the book's library wheel into `python`'s environment (`pip install --no-deps --force-reinstall`,
    nothing else touched) when it `changed` or `name` is missing there; returns pip's error, None when fine."""
    if not changed and framework_available(str(python), (name,)):
        return None
    run = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
                          "--disable-pip-version-check", str(wheel)], capture_output=True, text=True)
    framework_available.cache_clear()
    return None if run.returncode == 0 else (run.stderr.strip().splitlines() or ["pip failed"])[-1]


def installed_backends(names: list[str]) -> list[Backend]:
    """The named backends whose environment and framework are installed here."""
    from d2lc.emit.backend import get_backend
    out = []
    for n in names:
        b = get_backend(n)
        python = python_for(b)
        if python is not None and framework_available(str(python), b.environment.packages):
            out.append(b)
    return out
