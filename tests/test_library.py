"""The book's helper library (compiler/build/library.py): one module per target, written deterministically,
importable in its target's environment with its helpers working, packed into a wheel pip installs.

Each module is run in its own environment's python (PYTHONPATH pointing at the written package): `load_array`
on a tiny array gives batches of the right shape, and `download` fetches a file from a local HTTP server on
127.0.0.1 (tests/test_datahub.py's server), verifying its digest. A module built from an import table missing
its framework's line is shown to fail that same check (and ruff's undefined-name check).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from d2lc.build.book import load
from d2lc.build.envs import FRAMEWORK_ENV, framework_available, python_for
from d2lc.build.library import build_library, module_name, module_source, write_library
from d2lc.emit.backend import get_backend

from test_datahub import Server

ROOT = Path(__file__).resolve().parents[1]
BOOK = load(ROOT)
TARGETS = list(BOOK.targets)
PAYLOAD = b"a small data file for the hub\n"

EXERCISE = """
import json, os, sys, numpy
DEVICE = "cpu"
{setup}
from {package} import {module} as d2l
to_native = lambda a: {to_native}
X = to_native(numpy.arange(30, dtype=numpy.float32).reshape(10, 3))
y = to_native(numpy.arange(10, dtype=numpy.float32))
loaders = d2l.load_array(X, y, 4, shuffle=False, num_val=2)
train, val = (list(loader() if callable(loader) else loader) for loader in loaders)  # JAX's: functions
Xb, yb = train[0]
d2l.DATA_HUB["hub/file.txt"] = (os.environ["HUB_URL"], os.environ["HUB_DIGEST"])
path = d2l.download("hub/file.txt", sys.argv[1])
print(json.dumps({{"batch": [list(Xb.shape), list(yb.shape)], "train": len(train), "val": len(val), "file": path.read_text()}}))
"""


def _backends():
    return [get_backend(t) for t in TARGETS]


def _python(target: str) -> Path:
    backend = get_backend(target)
    python = python_for(backend, ROOT)
    if python is None or not framework_available(str(python), backend.environment.packages):
        pytest.skip(f"the {target} environment is not installed")
    return python


def _exercise(target: str, package_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run EXERCISE for `target` with the package in `package_dir`, the hub's file served from 127.0.0.1."""
    backend = get_backend(target)
    server = Server({"/file.txt": PAYLOAD})
    try:
        env = {**os.environ, **FRAMEWORK_ENV, "PYTHONPATH": str(package_dir), "HUB_URL": server.url + "/file.txt",
               "HUB_DIGEST": "sha256:" + hashlib.sha256(PAYLOAD).hexdigest(), "MPLBACKEND": "Agg"}
        code = EXERCISE.format(setup=backend.harness.setup, package=BOOK.library.name, module=module_name(backend),
                               to_native=backend.harness.to_native)
        return subprocess.run([str(_python(target)), "-c", code, str(tmp_path / "cache")], capture_output=True,
                              text=True, env=env, timeout=300)
    finally:
        server.close()


def test_written_twice_gives_the_same_bytes(tmp_path):
    first, second = build_library(BOOK, _backends()), build_library(BOOK, _backends())
    assert first == second
    assert len(write_library(BOOK, _backends(), tmp_path)) == len(first.files) + 1
    assert write_library(BOOK, _backends(), tmp_path) == []  # unchanged: nothing rewritten


def test_modules_name_every_target_and_define_no_harness_glue():
    lib = build_library(BOOK, _backends())
    modules = sorted(p for p in lib.files if p.startswith(f"{BOOK.library.name}/"))
    assert modules == sorted(f"{BOOK.library.name}/{m}.py" for m in
                             ("__init__", "torch", "tensorflow", "jax", "mxnet", "paddle"))
    for path in modules[1:]:
        text = lib.files[path]
        assert text.startswith('"""') and "def load_array(" in text and "def download(" in text
        assert "d2lc_" not in text and "import d2lc" not in text, path  # no harness glue, no compiler


def test_modules_have_no_undefined_or_unused_imports(tmp_path):
    write_library(BOOK, _backends(), tmp_path)
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "--no-cache", "--isolated", "--select", "F821,F401,F811",
                             str(tmp_path / BOOK.library.name)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("target", TARGETS)
def test_module_imports_and_its_helpers_work(target, tmp_path):
    write_library(BOOK, _backends(), tmp_path / "lib")
    result = _exercise(target, tmp_path / "lib", tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out == {"batch": [[4, 3], [4]], "train": 2, "val": 1, "file": PAYLOAD.decode()}


def test_a_module_missing_its_framework_import_is_caught(tmp_path):
    """The planted bug: PyTorch's import table without `import torch`; the module still imports (its helpers
    read `torch` when called) but load_array fails, and ruff names the undefined `torch`."""
    backend = get_backend("pytorch")
    broken = backend.derive(imports={k: v for k, v in backend.imports.items() if k != "torch"})
    package = tmp_path / "lib" / BOOK.library.name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "torch.py").write_text(module_source(BOOK, broken))
    result = _exercise("pytorch", tmp_path / "lib", tmp_path)
    assert result.returncode != 0 and "NameError: name 'torch' is not defined" in result.stderr
    ruff = Path(sys.executable).with_name("ruff")
    lint = subprocess.run([str(ruff), "check", "--no-cache", "--isolated", "--select", "F821", str(package)],
                          capture_output=True, text=True)
    assert lint.returncode != 0 and "torch" in lint.stdout


def test_the_wheel_holds_the_modules_and_pip_installs_it(tmp_path):
    write_library(BOOK, _backends(), tmp_path)
    wheel = tmp_path / BOOK.library.wheel
    assert wheel.name == "d2lbook-0.1.0-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("torch", "tensorflow", "jax", "mxnet", "paddle"):
        assert f"d2lbook/{module}.py" in names
    assert "d2lbook-0.1.0.dist-info/RECORD" in names
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                          "--target", str(target), str(wheel)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    installed = target / "d2lbook" / "torch.py"
    assert installed.read_text() == (tmp_path / "d2lbook" / "torch.py").read_text()
    assert (target / "d2lbook-0.1.0.dist-info" / "METADATA").read_text().startswith("Metadata-Version")


def test_cli_writes_the_configured_output_and_build_runs_it(tmp_path, capsys):
    from d2lc.cli.main import main
    (tmp_path / "book.toml").write_text('[targets]\norder = ["pytorch"]\n\n'
                                        '[library]\nname = "mybook"\nversion = "2.0"\noutput = "dist/lib"\n')
    (tmp_path / "sources" / "chapter_x").mkdir(parents=True)
    (tmp_path / "sources" / "chapter_x" / "index.md").write_text("# X\n\n```d2l\nx = arange(3)\n```\n")
    assert main(["library", "--book", str(tmp_path)]) == 0
    lib = tmp_path / "dist" / "lib"
    assert sorted(p.name for p in (lib / "mybook").iterdir()) == ["__init__.py", "torch.py"]
    assert (lib / "mybook-2.0-py3-none-any.whl").is_file() and 'name = "mybook"' in (lib / "pyproject.toml").read_text()
    assert "4 files rewritten" in capsys.readouterr().err
    (lib / "mybook" / "torch.py").unlink()
    assert main(["build", "--book", str(tmp_path), "--no-site", "--no-cache"]) == 0
    assert (lib / "mybook" / "torch.py").is_file()
    assert "1 file rewritten" in capsys.readouterr().err
