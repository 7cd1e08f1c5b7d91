"""The harness must fail loudly when a target emits wrong code, and pass when it does not.

A twin of the PyTorch backend is planted with one wrong emission rule at a time (a reduction
over the wrong axis, a sign flip); the run must report exactly the affected functions on exactly
that target as FAIL, keep the honest run green, save the shrunk input, and replay it.
"""
from pathlib import Path

import libcst as cst
import pytest

from d2lc.emit.backend import get_backend
from d2lc.emit.rules import Custom, Infix, Method, Tmpl, Unsupported, call
from d2lc.harness.replay import load_example
from d2lc.harness.runner import ERROR, FAIL, PASS, Runner

CHAPTER = '''# Planted bugs
```d2l
def row_sums(X: f32[n, k]) -> f32[n]:
    return X.sum(axis=1)

def total(X: f32[n, k]) -> f32[]:
    return X.sum()

def negate(X: f32[n, k]) -> f32[n, k]:
    return -X

def diff(X: f32[n, k], Y: f32[n, k]) -> f32[n, k]:
    return X - Y

def scaled(X: f32[n, k], a: float) -> f32[n, k]:
    return X * a
```
'''

torch_backend = pytest.importorskip("d2lc_targets.pytorch").backend


def _wrong_axis(em, node):
    """`sum` over axis 0 whatever the source says (and without keepdims)."""
    if node.args.get("axis") is None:
        return Method("sum").emit(em, node)
    return call("torch.sum", em.expr(node.args["x"]), dim=cst.Integer("0"))


PLANTED = {
    "sum": Custom(_wrong_axis),
    "neg": Tmpl("{x}"),
    "sub": Infix("+"),
}
AFFECTED = {"sum": {"row_sums", "row_sums d/dX"},
            "neg": {"negate", "negate d/dX"},
            "sub": {"diff", "diff d/dY"}}  # d(X+Y)/dX is still right


@pytest.fixture(scope="module")
def chapter(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "planted.md"
    path.write_text(CHAPTER)
    return path


def _run(chapter: Path, twin, tmp_path: Path, **kw):
    runner = Runner([get_backend("pytorch"), twin], reference="pytorch", examples=8, seed=3,
                    reports_dir=tmp_path / "reports", cache_dir=None, **kw)
    return runner, runner.run([chapter])


def _statuses(result, target):
    return {r.label: r.cells[target].status for r in result.rows}


def test_honest_twin_passes(chapter, tmp_path):
    twin = torch_backend.derive(name="pytorch-twin")
    _, result = _run(chapter, twin, tmp_path)
    assert _statuses(result, "pytorch-twin") == {label: PASS for label in _statuses(result, "pytorch")}
    assert set(_statuses(result, "pytorch").values()) == {PASS}
    assert result.ok
    assert {"row_sums d/dX", "diff d/dX", "diff d/dY", "scaled d/dX"} <= set(_statuses(result, "pytorch"))


@pytest.mark.parametrize("op", sorted(PLANTED))
def test_planted_bug_is_reported_on_that_target_only(chapter, tmp_path, op):
    twin = torch_backend.derive(name="pytorch-bug", ops={**torch_backend.ops, op: PLANTED[op]})
    runner, result = _run(chapter, twin, tmp_path)
    bug, ref = _statuses(result, "pytorch-bug"), _statuses(result, "pytorch")
    assert {label for label, s in bug.items() if s in (FAIL, ERROR)} == AFFECTED[op]
    assert bug[min(AFFECTED[op])] == FAIL  # the output row itself is a mismatch, not a crash
    assert all(s == PASS for label, s in bug.items() if label not in AFFECTED[op])
    assert set(ref.values()) == {PASS}  # the reference is not blamed
    assert not result.ok

    # The shrunk input is saved, and replaying it reproduces the failure.
    row = next(r for r in result.rows if r.cells["pytorch-bug"].status == FAIL and r.row.wrt is None)
    cell = row.cells["pytorch-bug"]
    assert cell.npz and Path(cell.npz).exists() and "--replay" in cell.replay and f"--function {row.row.function}" in cell.replay
    example, meta = load_example(Path(cell.npz))
    assert meta["function"] == row.row.function and meta["target"] == "pytorch-bug"
    again = Runner([get_backend("pytorch"), twin], reference="pytorch", examples=1, seed=3, cache_dir=None,
                   reports_dir=tmp_path / "again").run([chapter], replay=(row.row.function, example))
    assert again.rows[0].cells["pytorch-bug"].status == FAIL
    assert again.rows[0].cells["pytorch"].status == PASS


def test_shrinking_finds_a_small_input(chapter, tmp_path):
    twin = torch_backend.derive(name="pytorch-bug", ops={**torch_backend.ops, "neg": Tmpl("{x}")})
    _, result = _run(chapter, twin, tmp_path, shapes="free")
    cell = next(r for r in result.rows if r.label == "negate").cells["pytorch-bug"]
    assert cell.status == FAIL
    assert cell.example.dims == {"n": 1, "k": 1}  # hypothesis shrank the failing input to one element


def test_an_op_a_target_cannot_emit_is_an_error_for_that_function_only(chapter, tmp_path):
    twin = torch_backend.derive(name="pytorch-partial", ops={**torch_backend.ops, "neg": Unsupported("planted")})
    _, result = _run(chapter, twin, tmp_path)
    statuses = _statuses(result, "pytorch-partial")
    assert statuses["negate"] == ERROR and statuses["negate d/dX"] == ERROR
    assert "does not compile" in next(r for r in result.rows if r.label == "negate").cells["pytorch-partial"].message
    assert all(s == PASS for label, s in statuses.items() if not label.startswith("negate"))


def test_the_draws_do_not_depend_on_the_chapters_folder():
    """The same seed draws the same inputs for a chapter in a clone, a CI checkout or a temporary folder."""
    from types import SimpleNamespace

    from d2lc.harness.runner import _case_seed
    here = SimpleNamespace(name="row_sums", chapter=SimpleNamespace(path="/work/main/tests/corpus/planted.md"))
    there = SimpleNamespace(name="row_sums", chapter=SimpleNamespace(path="/tmp/pytest-110/corpus0/planted.md"))
    other = SimpleNamespace(name="diff", chapter=SimpleNamespace(path="/tmp/pytest-110/corpus0/planted.md"))
    assert _case_seed(3, here) == _case_seed(3, there) != _case_seed(3, other)
    assert _case_seed(3, here) != _case_seed(4, here)


def test_a_function_reading_a_chapter_global_is_compared(tmp_path):
    """Notebooks run the chapter's top-level cells before calling a function; the harness module must too."""
    path = tmp_path / "globals.md"
    path.write_text("# Globals\n```d2l\nscale = 3.0\noffset = scale * 2\n\n"
                    "def shifted(X: f32[n, k]) -> f32[n, k]:\n    return X * scale + offset\n```\n")
    runner = Runner([get_backend("pytorch"), get_backend("pytorch").derive(name="pytorch-twin")], reference="pytorch",
                    examples=3, seed=0, reports_dir=tmp_path / "reports", cache_dir=None)
    result = runner.run([path])
    assert {r.label: {t: c.status for t, c in r.cells.items()} for r in result.rows}["shifted"] == \
        {"pytorch": PASS, "pytorch-twin": PASS}


def test_a_function_reading_a_drawn_chapter_value_is_skipped_with_the_reason(tmp_path):
    """A function that reads a random draw of the chapter (directly or through a function it calls) cannot run in a
    function module (it raised NameError on every target, an error row); it is skipped, saying what it reads, and a
    function reading only plain values still runs."""
    path = tmp_path / "drawn.md"
    path.write_text("# Drawn\n```d2l\nteacher = normal((3, 1))\nscale = 2.0\n\n"
                    "def label(X: f32[n, 3]) -> f32[n, 1]:\n    return matmul(X, teacher) * scale\n\n"
                    "def outer(X: f32[n, 3]) -> f32[n, 1]:\n    return label(X) + 1.0\n\n"
                    "def fine(X: f32[n, 3]) -> f32[n, 3]:\n    return X * scale\n```\n")
    runner = Runner([get_backend("pytorch"), get_backend("pytorch").derive(name="pytorch-twin")], reference="pytorch",
                    examples=3, seed=0, reports_dir=tmp_path / "reports", cache_dir=None)
    result = runner.run([path])
    cells = {r.label: r.cells for r in result.rows}
    for label in ("label", "label d/dX", "outer", "outer d/dX"):
        assert all(c.skipped and "`teacher`" in c.skipped for c in cells[label].values()), (label, cells[label])
    assert {t: c.status for t, c in cells["fine"].items()} == {"pytorch": PASS, "pytorch-twin": PASS}
