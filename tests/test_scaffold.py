"""`d2lc new-target`: the skeleton imports, starts from the shared rows, declares the other ops as TODOs and fails
loudly until filled in; with --inherit it is the parent backend and passes conformance as written."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from d2lc.emit.backend import Backend, get_backend
from d2lc.emit.base_ops import base_ops
from d2lc.cli.main import main
from d2lc.tools.conformance import check_coverage, check_goldens, missing_ops
from d2lc.tools.goldens import read_goldens
from d2lc.emit.base import GENERIC, EmitError
from d2lc.emit.rules import Unsupported
from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import build_notebook
from d2lc.core.ops import SPECS
from d2lc.tools.scaffold import ScaffoldError, add_entry_point, scaffold

CHAPTER = "# T\n\n```d2l\nx = arange(12.0)\nprint(relu(x).sum())\n```\n"


def load(package: Path, name: str):
    """Import a scaffolded backend package from its folder, without installing it."""
    spec = importlib.util.spec_from_file_location(name, package / "__init__.py", submodule_search_locations=[str(package)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        for key in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
            del sys.modules[key]
    return module


def test_skeleton_starts_from_the_shared_rows_and_declares_the_rest_as_todos(tmp_path):
    result = scaffold("toyfw", tmp_path / "targets")
    names = {p.relative_to(tmp_path).as_posix() for p in result.files}
    assert names == {"targets/toyfw/__init__.py", "targets/toyfw/ops.py", "targets/toyfw/emitter.py",
                     "targets/toyfw/snippets/harness_models.py", "targets/toyfw/goldens.md", "envs/toyfw.txt"}
    assert result.entry_point == 'toyfw = "toyfw:backend"' and not result.registered
    backend = load(tmp_path / "targets" / "toyfw", "toyfw_skeleton").backend
    assert isinstance(backend, Backend) and backend.name == "toyfw"
    shared = base_ops("toyfw")
    for op in SPECS:
        if op in GENERIC:
            assert backend.supports(op)
        elif op in shared:
            assert backend.ops[op] == shared[op], op
        else:
            rule = backend.ops[op]
            assert isinstance(rule, Unsupported) and rule.why.startswith("TODO"), op
            assert not backend.supports(op)
    missing, declared = missing_ops(backend)
    assert sorted(missing) == sorted(set(SPECS) - set(GENERIC) - set(shared)) and "relu" in missing and not declared


def test_compiling_for_the_skeleton_names_the_missing_op(tmp_path):
    scaffold("toyfw", tmp_path / "targets")
    backend = load(tmp_path / "targets" / "toyfw", "toyfw_skeleton2").backend
    module = compile_chapter(CHAPTER, "t.md", {"toyfw"})
    with pytest.raises(EmitError) as info:
        build_notebook(module, backend)
    assert info.value.diagnostic.message == "op `relu` is not supported by target `toyfw`"
    assert info.value.diagnostic.hint.startswith("TODO: relu(")


def test_conformance_fails_listing_what_to_fill_in(tmp_path):
    scaffold("toyfw", tmp_path / "targets")
    backend = load(tmp_path / "targets" / "toyfw", "toyfw_skeleton3").backend
    step = check_coverage(backend)
    covered = len(set(SPECS) & (set(GENERIC) | set(base_ops("toyfw"))))
    assert step.status == "FAIL" and step.summary == f"{covered} of {len(SPECS)} IR ops"
    assert "relu" in step.details[0] and "cross_entropy" in step.details[0] and "arange" not in step.details[0]
    goldens = check_goldens(backend, None, tmp_path / "targets" / "toyfw" / "goldens.md")
    assert goldens.status == "FAIL" and any("not supported by target `toyfw`" in d for d in goldens.details)


def test_inheriting_starts_from_the_base_rules(tmp_path):
    scaffold("toytorch", tmp_path / "targets", inherit="pytorch")
    backend = load(tmp_path / "targets" / "toytorch", "toytorch_skeleton").backend
    torch = get_backend("pytorch")
    assert backend.ops == torch.ops
    assert (backend.dtypes, backend.imports, backend.environment, backend.harness, backend.layouts) == \
        (torch.dtypes, torch.imports, torch.environment, torch.harness, torch.layouts)
    goldens = read_goldens(tmp_path / "targets" / "toytorch" / "goldens.md")
    assert goldens and all(case.expected for case in goldens)  # the parent's output, to change where it differs
    assert all(backend.supports(op) for op in SPECS)
    assert issubclass(backend.emitter, torch.emitter)
    module = compile_chapter(CHAPTER, "t.md", {"toytorch"})
    assert "torch.arange(12.0)" in build_notebook(module, backend)


MODEL_CHAPTER = ("# M\n\n```d2l\nmodel Small(n: int = 4):\n    net = Sequential(Linear(n), ReLU())\n"
                 "    def forward(X: f32[b, 3]) -> f32[b, 4]:\n        return net(X)\n\nnet = Small()\nprint(net(ones((2, 3))))\n```\n")


def test_an_inherited_scaffold_changes_a_layer_by_one_row(tmp_path):
    """models.py holds the parent's layer rows; one row added there is what the backend emits."""
    scaffold("toytorch", tmp_path / "targets", inherit="pytorch")
    package = tmp_path / "targets" / "toytorch"
    module = compile_chapter(MODEL_CHAPTER, "m.md", {"toytorch"})
    inherited = load(package, "toytorch_rows").backend
    assert inherited.emitter.layer_rows == get_backend("pytorch").emitter.layer_rows
    assert "nn.ReLU()" in build_notebook(module, inherited)
    models = package / "models.py"
    models.write_text(models.read_text(encoding="utf-8").replace(
        "LAYER_ROWS = {**base.emitter.layer_rows}",
        'LAYER_ROWS = {**base.emitter.layer_rows, "ReLU": LayerRow("toy.Rectifier", (), {})}'), encoding="utf-8")
    changed = load(package, "toytorch_rows2").backend
    notebook = build_notebook(module, changed)
    assert "toy.Rectifier()" in notebook and "nn.ReLU(" not in notebook


def test_cli_writes_and_refuses_to_overwrite(tmp_path, capsys):
    assert main(["new-target", "toyfw", "--dir", str(tmp_path / "targets")]) == 0
    out = capsys.readouterr().out
    assert 'toyfw = "toyfw:backend"' in out and "d2lc conformance toyfw" in out
    with pytest.raises(SystemExit) as info:
        main(["new-target", "toyfw", "--dir", str(tmp_path / "targets")])
    assert info.value.code == 2
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["new-target", "pytorch", "--dir", str(tmp_path / "targets")])  # an installed name


def test_bad_names_are_refused(tmp_path):
    for bad in ("Paddle", "2fast", "with-dash", "class"):
        with pytest.raises(ScaffoldError):
            scaffold(bad, tmp_path)


def test_entry_point_is_added_once(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n\n[project.entry-points."d2lc.targets"]\npytorch = "d2lc_targets.pytorch:backend"\n\n'
                         '[tool.setuptools]\nzip-safe = false\n')
    assert add_entry_point(pyproject, "toyfw", 'toyfw = "d2lc_targets.toyfw:backend"')
    assert not add_entry_point(pyproject, "toyfw", 'toyfw = "d2lc_targets.toyfw:backend"')
    text = pyproject.read_text()
    assert 'pytorch = "d2lc_targets.pytorch:backend"\ntoyfw = "d2lc_targets.toyfw:backend"\n\n[tool.setuptools]' in text


TINY_BOOK = """# Tiny

```d2l
def square_sum(x: f32[n]) -> f32[]:
    return (x * x).sum()

model Tiny(num_outputs: int):
    net = Sequential(Linear(4), ReLU(), Linear(num_outputs))
    def forward(X: f32[n, 3]):
        return net(X)
```
"""


def test_an_inherited_scaffold_passes_conformance_as_written(tmp_path):
    """`d2lc new-target toytorch --inherit pytorch`, then `d2lc conformance toytorch` in a fresh process: every
    step, numerical ones included, passes without an edit. The entry point is registered the way an installed
    package registers it (a .dist-info folder on the path), so nothing is pip-installed. One small chapter
    (a function, a model) keeps the numerical steps to two worker start-ups: about 25 s on 2 cores."""
    targets, site, book = tmp_path / "targets", tmp_path / "site", tmp_path / "book"
    assert main(["new-target", "toytorch", "--inherit", "pytorch", "--dir", str(targets)]) == 0
    info = site / "toytorch-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toytorch\nVersion: 0\n")
    (info / "entry_points.txt").write_text("[d2lc.targets]\ntoytorch = toytorch:backend\n")
    book.mkdir()
    (book / "tiny.md").write_text(TINY_BOOK)
    path = [str(targets), str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-m", "d2lc.cli.main", "conformance", "toytorch", "--sources", str(book),
                           "--examples", "2"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for step in ("coverage", "goldens", "reference", "chapters", "equivalence", "models"):
        assert any(line.startswith(f"{step:12} ok") for line in out.splitlines()), (step, out)
    assert "d2lc conformance toytorch: ok" in out
