"""Whole-notebook differential testing: every notebook of the book runs on every target, and every
top-level value and printed value agrees with PyTorch's (or is listed, with a reason, in
tests/known_notebook_divergences.txt).

The book test replaces running each notebook on its own (tests/test_book.py did): it runs each
notebook once per target in the long-lived workers and compares as it goes.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.build.checked import compile_chapter
from d2lc.harness.determinism import analyse
from d2lc.harness.known import read_known
from d2lc.harness.notebooks import NotebookReport, compare_notebooks, compare_one, fake_data_root, prepare, prepare_all
from d2lc.harness.session import Session
from helpers import available_backends

ROOT = Path(__file__).resolve().parent.parent
KNOWN = ROOT / "tests" / "known_notebook_divergences.txt"
TARGETS = {"pytorch", "tensorflow", "jax", "mxnet", "paddle"}

CHAPTER = '''# Determinism

```d2l
a = arange(3.0)
b = normal((3,)) + a
c = a * 2

def noisy(x: f32[n]) -> f32[n]:
    return x + normal((3,))

d = noisy(a)
e = a.sum()
for i in range(2):
    e = e + b.sum()
print(a, b)
fixed = Linear(2, init=constant(0.5))
drawn = Linear(2)
y = fixed(a.reshape(1, 3))
y2 = drawn(a.reshape(1, 3))
```

```d2l
model Ones():
    net = Sequential(Linear(2, init=ones), ReLU())
    def forward(X: f32[n, 3]):
        return net(X)

model Drawn():
    net = Sequential(Linear(2), ReLU())
    def forward(X: f32[n, 3]):
        return net(X)

m = Ones()
z = m(ones((2, 3)))
r = Drawn()
zr = r(ones((2, 3)))
```
'''


def test_determinism_analysis_marks_what_depends_on_chance():
    analysis = analyse(compile_chapter(CHAPTER, "t.md", TARGETS))
    marks = {(b.name, b.line): b.deterministic for bs in analysis.bindings.values() for b in bs}
    assert marks[("a", 4)] and marks[("c", 6)] and marks[("e", 12)]
    assert not marks[("b", 5)]  # a draw
    assert not marks[("d", 11)]  # a function that draws
    assert not marks[("e", 14)]  # reads b in a loop
    assert marks[("fixed", 16)] and marks[("y", 18)]  # stated constant initialisers draw nothing
    assert not marks[("drawn", 17)] and not marks[("y2", 19)]  # the framework's default scheme
    assert marks[("m", 33)] and marks[("z", 34)]
    assert not marks[("r", 35)] and not marks[("zr", 36)]
    [site] = analysis.prints[1]
    assert site.line == 15 and site.deterministic == [True, False]


def test_compare_one_uses_dtype_and_shape_only_for_random_values():
    import numpy as np
    a = np.arange(4, dtype=np.float32)
    assert compare_one(a, a + 1, deterministic=False, effective=lambda d: d) is None
    assert "differ" in compare_one(a, a + 1, deterministic=True, effective=lambda d: d)
    assert "shape" in compare_one(a[:3], a, deterministic=False, effective=lambda d: d)
    assert "dtype" in compare_one(a.astype(np.float64), a, deterministic=False, effective=lambda d: d)
    # JAX without 64-bit mode computes int64 as int32: that is the target's declared narrowing, not a divergence
    from d2lc.core.types import DType
    narrow = {DType.int64: DType.int32}
    assert compare_one(np.arange(3, dtype=np.int32), np.arange(3), True, lambda d: narrow.get(d, d)) is None


SMALL = '''# Small

Prose.

```d2l
X = arange(6.0).reshape(2, 3)
Y = softmax(X, axis=0)
print(Y.sum(axis=0))
Z = X.clone()
Z[0, 1:] = 5.0
```
'''




def _run(session: Session, backends: list, text: str, tmp_path: Path) -> NotebookReport:
    path = tmp_path / "small.md"
    path.write_text(text, encoding="utf-8")
    program = prepare(path, backends, TARGETS | {"torch", "tf", "mx", "paddlepaddle"})
    return compare_notebooks(session, [program], "pytorch", fake_data_root() / "nb")


def test_a_planted_emitter_bug_is_named_by_chapter_cell_line_and_variable(tmp_path, monkeypatch):
    """TensorFlow's softmax planted to ignore its axis: the notebook comparison names where."""
    backends = available_backends(["pytorch", "tensorflow"])
    if len(backends) < 2:
        pytest.skip("needs PyTorch and TensorFlow")
    with Session(backends) as session:  # the plant is in the compiler: one session runs both notebooks
        session.start()
        clean = _run(session, backends, SMALL, tmp_path)
        assert not clean.divergences, [str(d) for d in clean.divergences]
        assert clean.compared >= 4 and clean.by_value == clean.compared

        tf = get_backend("tensorflow")
        from d2lc.emit.rules import Fn
        monkeypatch.setitem(tf.ops, "softmax", Fn("tf.nn.softmax"))  # the planted bug: the axis is dropped
        planted = _run(session, backends, SMALL, tmp_path)
    where = {(d.line, d.variable, d.target) for d in planted.divergences}
    assert (7, "Y", "tensorflow") in where, [str(d) for d in planted.divergences]
    assert (8, "print", "tensorflow") in where
    assert all(d.cell == 1 and d.chapter.endswith("small.md") for d in planted.divergences)


LOOP_BEFORE_GRAD = """# A loop inside a tape

```d2l
x = arange(3.0)
y = x * 3
for i in range(4):
    y = y / 2
g = grad(y.sum(), x)
```
"""


def test_a_name_bound_twice_inside_one_emitted_statement_is_one_value(tmp_path):
    """TensorFlow and MXNet put `y = x * 3` and the loop rebinding `y` into one tape block: the worker recorded `y`
    once per assignment in that block, both the final value, and paired the first with PyTorch's `y = x * 3` (a
    false divergence, 0.1875 vs 3.0)."""
    backends = available_backends(["pytorch", "tensorflow", "mxnet"])
    if len(backends) < 2:
        pytest.skip("needs PyTorch and TensorFlow or MXNet")
    with Session(backends) as session:
        session.start()
        report = _run(session, backends, LOOP_BEFORE_GRAD, tmp_path)
    assert not report.divergences, [str(d) for d in report.divergences]
    assert report.by_value >= 2 * (len(backends) - 1)


def test_the_book_agrees_notebook_by_notebook(monkeypatch):
    """Every notebook of sources/ (and the fuzzer's corpus cases) on every installed target, small."""
    monkeypatch.chdir(ROOT)  # chapters are named by their paths from the repository root
    backends = available_backends(target_names())
    if "pytorch" not in {b.name for b in backends}:
        pytest.skip("the reference target (PyTorch) is not installed")
    report = NotebookReport()
    programs = prepare_all([p for p in (Path("sources"), Path("tests/corpus/fuzz")) if p.exists()], backends, report)
    root = fake_data_root()
    with Session(backends, cache_dir=ROOT / ".d2lc-cache") as session:
        session.start()
        run = compare_notebooks(session, programs, "pytorch", root / "nb")
    divergences = report.divergences + run.divergences
    known = read_known(KNOWN) if KNOWN.exists() else {}
    key = lambda d: (d.key, d.target)  # noqa: E731
    new = [d for d in divergences if key(d) not in known]
    assert run.notebooks >= len(programs) * len(backends) - len(run.skipped) * len(programs)
    assert not new, ("new notebook divergences (fix the backend, or list them with a reason in "
                     "tests/known_notebook_divergences.txt):\n" +
                     "\n".join(f"{key(d)[0]} | {d.target} | {d.message}" for d in new))
    stale = set(known) - {key(d) for d in divergences}
    unavailable = {t for t in TARGETS if t not in {b.name for b in backends}}
    stale = {k for k in stale if k[1] not in unavailable}
    assert not stale, f"listed divergences that no longer happen (remove them): {sorted(stale)}"



def test_jax_draws_float32_in_64_bit_mode():
    """Found by the notebook comparison (attention-scoring-functions.md printed float64 on JAX): a chapter with
    int64 tensors turns on JAX's 64-bit mode, where jax.random.normal draws float64 unless told float32."""
    from d2lc.build.notebook import emit_cells
    text = "# T\n\n```d2l\nlengths = tensor([2, 6]).astype(int64)\nx = normal((2, 3))\nu = uniform((2,))\n```\n"
    code = "\n".join(src for kind, src, _ in emit_cells(compile_chapter(text, "t.md", TARGETS), get_backend("jax")))
    assert 'jax.config.update("jax_enable_x64", True)' in code
    assert "jax.random.normal(subkey, (2, 3), dtype=jnp.float32)" in code
    assert "jax.random.uniform(subkey, (2,), dtype=jnp.float32)" in code


def test_jax_params_are_float32_in_64_bit_mode():
    """Found by the notebook comparison (softmax-regression-scratch.md's logits were float64 on JAX): `param(...)`
    initialisers follow JAX's 64-bit mode unless given the dtype."""
    from d2lc.build.notebook import emit_cells
    text = ("# T\n\n```d2l\nz = zeros((2,)).astype(float64)\nmodel M():\n    W = param((3, 2), init=normal(0.0, 0.01))\n"
            "    def forward(X: f32[n, 3]):\n        return X @ W\n```\n")
    code = "\n".join(src for kind, src, _ in emit_cells(compile_chapter(text, "t.md", TARGETS), get_backend("jax")))
    assert 'self.param("W", nn.initializers.normal(0.01), (3, 2), jnp.float32)' in code


def test_a_list_appended_in_a_loop_is_as_random_as_its_items():
    text = ("# T\n\n```d2l\nw = normal((2,))\nout = []\nfor i in range(2):\n    out.append((w * i).sum())\n"
            "fixed = []\nfixed.append(ones((2,)))\n```\n")
    marks = [(b.name, b.deterministic) for bs in analyse(compile_chapter(text, "t.md", TARGETS)).bindings.values() for b in bs]
    assert ("out", True) in marks and marks[-3:] == [("out", False), ("fixed", True), ("fixed", True)], marks
