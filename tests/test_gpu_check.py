"""scripts/gpu-check.sh, dry run: the same script a GPU machine runs, with `--device=cpu` on one small chapter.

It must find the targets a GPU machine has (PyTorch, JAX), run the suite with TF32 off, write the matrix
under the reports folder, and pass on d2lc's exit status (a chapter that does not compile fails it)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = """# Tiny

```d2l
def scaled_sum(X: f32[n, k], w: f32[k]) -> f32[n]:
    return (X * w).sum(axis=1) / 2.0
```
"""


def run(tmp_path: Path, text: str) -> tuple[int, str, Path]:
    chapter = tmp_path / "tiny.md"
    chapter.write_text(text, encoding="utf-8")
    reports = tmp_path / "reports"
    env = {**os.environ, "PYTHON": sys.executable, "GPU_CHECK_REPORTS": str(reports)}
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu-check.sh"), "--device=cpu", "--examples=2", "--budget=240",
                           str(chapter)], capture_output=True, text=True, env=env, timeout=300)
    return done.returncode, done.stdout + done.stderr, reports


def test_the_dry_run_passes_and_writes_a_report(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("jax")
    code, out, reports = run(tmp_path, CHAPTER)
    assert code == 0, out
    assert "targets=pytorch,jax" in out, out
    data = json.loads((reports / "matrix.json").read_text())
    cells = [c for row in data["rows"] for c in row["cells"].values()]
    assert cells and all(c.get("status") == "pass" for c in cells), data["rows"]


def test_a_failing_suite_fails_the_script(tmp_path):
    pytest.importorskip("torch")
    code, out, _ = run(tmp_path, CHAPTER.replace("/ 2.0", "/ undefined_name"))
    assert code != 0, out
