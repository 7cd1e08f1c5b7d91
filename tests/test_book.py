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
    backends = [get_backend(n) for n in target_names()]  # every registered target, plug-ins included
    result = build([SOURCES], backends, tmp_path)
    assert not result.errors, result.errors
    fresh = {p.relative_to(tmp_path): text for p, text in result.outputs.items()}
    committed = {p.relative_to(GENERATED): p.read_text(encoding="utf-8") for p in GENERATED.rglob("*.ipynb")}
    stale = sorted(str(p) for p in fresh if committed.get(p) != fresh[p])
    extra = sorted(str(p) for p in committed if p not in fresh)
    assert not stale and not extra, f"generated/ is stale; run `make book`. stale={stale} extra={extra}"


def notebooks() -> list[Path]:
    return sorted(GENERATED.rglob("*.ipynb"))


# CI runs the book small: a notebook's `parameters` cell is followed by these overrides (papermill-style).
CI_PARAMETERS = {"epochs": 2, "num_epochs": 2, "batch_size": 32, "num_train": 256, "num_val": 128}


def notebook_source(path: Path) -> str:
    nb = json.loads(path.read_text(encoding="utf-8"))
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        parts.append(source)
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            names = {line.split("=")[0].strip() for line in source.splitlines() if "=" in line}
            parts.append("\n".join(f"{k} = {v!r}" for k, v in CI_PARAMETERS.items() if k in names))
    return "\n\n".join(parts)


@pytest.fixture(scope="module", autouse=True)
def _close_runners():
    yield
    from nbrunner import close_all
    close_all()


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: str(p.relative_to(GENERATED)))
def test_notebook_runs(path, tmp_path):
    backend = get_backend(path.relative_to(GENERATED).parts[0])
    python = python_for(backend)
    if python is None or not framework_available(str(python), backend.environment.packages):
        pytest.skip(f"{backend.display_name} is not installed (environment '{backend.environment.name}')")
    from fakedata import write_fashion_mnist, write_time_machine
    write_fashion_mnist(tmp_path / "data")
    write_time_machine(tmp_path / "data")
    work = tmp_path / "notebook"
    work.mkdir()
    script = work / (path.stem + ".py")
    script.write_text(notebook_source(path), encoding="utf-8")
    from nbrunner import runner_for
    ok, error = runner_for(str(python)).run(str(script), str(work), timeout=600)
    assert ok, f"{path} failed:\n{error}"
