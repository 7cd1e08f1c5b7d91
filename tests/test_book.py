"""The book itself: generated/ matches sources/, and every generated notebook runs in its framework's environment."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from d2lc.backend import get_backend, target_names
from d2lc.build import build
from d2lc.envs import framework_available, python_for

ROOT = Path(__file__).resolve().parent.parent
SOURCES, GENERATED = ROOT / "sources", ROOT / "generated"


def test_generated_is_in_sync_with_sources(tmp_path):
    backends = [get_backend(n) for n in target_names() if n in ("pytorch", "tensorflow", "jax", "mxnet")]
    result = build([SOURCES], backends, tmp_path)
    assert not result.errors, result.errors
    fresh = {p.relative_to(tmp_path): text for p, text in result.outputs.items()}
    committed = {p.relative_to(GENERATED): p.read_text(encoding="utf-8") for p in GENERATED.rglob("*.ipynb")}
    stale = sorted(str(p) for p in fresh if committed.get(p) != fresh[p])
    extra = sorted(str(p) for p in committed if p not in fresh)
    assert not stale and not extra, f"generated/ is stale; run `make book`. stale={stale} extra={extra}"


def notebooks() -> list[Path]:
    return sorted(GENERATED.rglob("*.ipynb"))


def notebook_source(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: str(p.relative_to(GENERATED)))
def test_notebook_runs(path, tmp_path):
    backend = get_backend(path.relative_to(GENERATED).parts[0])
    python = python_for(backend)
    if python is None or not framework_available(str(python), backend.environment.packages):
        pytest.skip(f"{backend.display_name} is not installed (environment '{backend.environment.name}')")
    script = tmp_path / (path.stem + ".py")
    script.write_text(notebook_source(path), encoding="utf-8")
    env = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2", "D2LC_SMALL": "1"}
    proc = subprocess.run([str(python), str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{path} failed:\n{proc.stderr[-4000:]}"
