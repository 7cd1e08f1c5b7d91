"""A built wheel carries every file the compiler reads at run time, so a non-editable install works."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNTIME_DATA = ("grammar/*.lark", "targets/*/snippets/*.py", "targets/*/goldens.md", "compiler/templates/**/*.j2",
                "compiler/emit/snippets/*.py", "compiler/site/static/*")
PACKAGED = ("pyproject.toml", "setup.py", "README.md", "compiler", "grammar", "targets")
INSTALLED_AS = {"grammar": "d2lc/grammar", "targets": "d2lc_targets", "compiler": "d2lc"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    out, src = tmp_path_factory.mktemp("wheel"), tmp_path_factory.mktemp("src")
    # build from a clean copy: a stale build/ folder in the work tree would hide missing package data
    for name in PACKAGED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(ROOT / name, src / name)
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(out)], capture_output=True, text=True)
    if build.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{build.stderr[-2000:]}")
    (wheel,) = out.glob("d2lc-*.whl")
    with zipfile.ZipFile(wheel) as z:
        yield z


def _installed_name(path: Path) -> str:
    rel = path.relative_to(ROOT)
    return "/".join([INSTALLED_AS[rel.parts[0]], *rel.parts[1:]])


def test_the_wheel_carries_every_runtime_data_file(wheel):
    wheel_names = set(wheel.namelist())
    wanted = sorted({p for pattern in RUNTIME_DATA for p in ROOT.glob(pattern) if p.is_file()})
    assert wanted, "no runtime data files found: the patterns are stale"
    missing = [str(p.relative_to(ROOT)) for p in wanted if _installed_name(p) not in wheel_names]
    assert not missing, f"not in the wheel: {missing}"


def test_the_wheel_registers_every_backend(wheel):
    (entry_points,) = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    registered = wheel.read(entry_points).decode()
    targets = sorted(p.name for p in (ROOT / "targets").iterdir() if (p / "__init__.py").exists())
    for name in targets:
        assert f"d2lc_targets/{name}/__init__.py" in wheel.namelist()
        assert f"{name} = d2lc_targets.{name}:backend" in registered
