"""Lint as a habit: ruff's pyflakes rules (unused imports and variables, undefined names) are clean."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_the_tree_is_lint_clean():
    proc = _ruff(".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_lint_sees_an_unused_import(tmp_path):
    """The configuration really selects the rules (an empty selection would pass everything)."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "planted.py").write_text("import os\n\nprint(undefined_name)\n", encoding="utf-8")
    proc = _ruff("planted.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert "F401" in proc.stdout and "F821" in proc.stdout


def test_the_lint_reads_the_build_stage(tmp_path):
    """Excluding the top-level build output must not exclude the package's `compiler/build/` stage."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "compiler" / "build").mkdir(parents=True)
    (tmp_path / "compiler" / "build" / "planted.py").write_text("import os\n", encoding="utf-8")
    proc = _ruff(".", cwd=tmp_path)
    assert proc.returncode == 1 and "compiler/build/planted.py" in proc.stdout
