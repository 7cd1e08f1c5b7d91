"""The random draws `randint`, `bernoulli` and `categorical` on every target.

Frameworks draw different numbers from the same seed, so the equivalence harness compares draws by dtype and
shape only (the determinism analysis reads the `random` category of their specs); this file adds what the
harness cannot: each target's draws lie in the promised range with the promised frequencies, JAX gives every
draw of a statement its own key, and the compile-time checks of their arguments.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from d2lc.build.checked import compile_chapter
from d2lc.build.envs import FRAMEWORK_ENV, python_for
from d2lc.build.notebook import build_notebook, emit_cells
from d2lc.core.diagnostics import CompileError
from d2lc.emit.backend import get_backend
from d2lc.emit.base import EmitError
from d2lc.harness.determinism import analyse
from helpers import available_backends

TARGETS = {"pytorch", "tensorflow", "jax", "mxnet", "paddle"}
DRAWS = """# Draws

```d2l
seed(3)
R = randint(2, 5, (4000,))
B = bernoulli(0.25, (4000,))
X = arange(6.0).reshape(2, 3)
D = X * bernoulli(0.5, X.shape) / 0.5
C = bernoulli(1.0, (2, 3)) + randint(0, 1, (2, 3))
K = categorical(tensor([0.1, 0.2, 0.7]), 4000)
```
"""
ROWS = """# Rows

```d2l
P = tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
S = categorical(P, 5)
```
"""

REPORT = """
import json as _json, numpy as _numpy
def _np(v):
    return v.asnumpy() if hasattr(v, "asnumpy") else _numpy.asarray(v)
print("D2LC " + _json.dumps({n: [str(_np(v).dtype), list(_np(v).shape), sorted(set(_np(v).ravel().tolist()))[:8],
                                  float(_np(v).mean())] for n, v in NAMES}))
"""


def _run(text: str, names: str, target: str, tmp_path: Path) -> dict:
    script = tmp_path / "draws.py"
    report = REPORT.replace("NAMES", "[" + ", ".join(f"({n!r}, {n})" for n in names.split()) + "]")
    script.write_text(_code(text, target) + report, encoding="utf-8")
    env = {**os.environ, **FRAMEWORK_ENV}
    out = subprocess.run([str(python_for(get_backend(target))), str(script)], capture_output=True, text=True, env=env,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    [line] = [ln for ln in out.stdout.splitlines() if ln.startswith("D2LC ")]
    return json.loads(line[5:])


def _code(text: str, target: str) -> str:
    module = compile_chapter(text, "draws.md", TARGETS)
    return "\n".join(src for kind, src, _ in emit_cells(module, get_backend(target)) if kind == "code")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_draws_lie_in_their_range_with_their_frequencies(target: str, tmp_path: Path) -> None:
    if not available_backends([target]):
        pytest.skip(f"{target} is not installed")
    got = _run(DRAWS, "R B C D K", target, tmp_path)
    dtype, shape, values, mean = got["R"]
    assert dtype in ("int64", "int32") and shape == [4000] and values == [2, 3, 4], got["R"]  # int32: JAX without x64
    assert abs(mean - 3.0) < 0.1
    dtype, shape, values, mean = got["B"]
    assert dtype == "float32" and shape == [4000] and values == [0.0, 1.0] and abs(mean - 0.25) < 0.05, got["B"]
    assert got["C"][:3] == ["float32", [2, 3], [1.0]]  # p = 1 always draws 1; randint(0, 1) always 0
    assert got["D"][0] == "float32" and got["D"][1] == [2, 3] and set(got["D"][2]) <= {0.0, 2.0, 4.0, 6.0, 8.0, 10.0}
    dtype, shape, values, mean = got["K"]
    assert dtype in ("int64", "int32") and shape == [4000] and values == [0, 1, 2] and abs(mean - 1.6) < 0.1, got["K"]


@pytest.mark.parametrize("target", sorted(TARGETS - {"mxnet"}))
def test_categorical_draws_one_row_of_samples_per_distribution(target: str, tmp_path: Path) -> None:
    if not available_backends([target]):
        pytest.skip(f"{target} is not installed")
    module = compile_chapter(ROWS, "rows.md", TARGETS)
    assert module is not None
    got = _run(ROWS, "S", target, tmp_path)["S"]
    assert got[0] in ("int64", "int32") and got[1] == [3, 5] and got[2] == [0, 1, 2]
    assert abs(got[3] - 1.0) < 1e-9  # rows of 0s, 2s and 1s: each row draws its one possible class


def test_mxnet_refuses_categorical_draws_from_rows() -> None:
    module = compile_chapter(ROWS, "rows.md", TARGETS)
    with pytest.raises(EmitError) as info:
        build_notebook(module, get_backend("mxnet"))
    rendered = info.value.diagnostic.render(ROWS.splitlines())
    assert rendered.splitlines()[0] == "rows.md:5:5: error: op `categorical` is not supported by target `mxnet`", rendered


def test_draws_are_compared_by_dtype_and_shape_only() -> None:
    analysis = analyse(compile_chapter(DRAWS, "draws.md", TARGETS))
    marks = {b.name: b.deterministic for bs in analysis.bindings.values() for b in bs}
    assert marks["X"] and not any(marks[n] for n in "RBDCK")


def test_jax_gives_every_draw_of_a_statement_its_own_key() -> None:
    code = "".join(_code(DRAWS, "jax").split())  # without the formatter's line breaks
    assert "key,subkey=jax.random.split(key)key,subkey2=jax.random.split(key)C=" in code
    assert "jax.random.bernoulli(subkey,1.0,(2,3))" in code and "jax.random.randint(subkey2,(2,3),0,1)" in code
    assert "jax.random.randint(subkey,(4000,),2,5)" in code


@pytest.mark.parametrize("src, message", [
    ("R = randint(5, 2, (3,))", "ch.md:4:5: error: `randint` needs low < high, got randint(5, 2, ...)"),
    ("R = randint(0.5, 2, (3,))", "ch.md:4:5: error: `randint` needs int bounds, got low=float"),
    ("B = bernoulli(1.5, (3,))", "ch.md:4:5: error: `bernoulli` with a probability of 1.5"),
    ("K = categorical(tensor([1, 2]), 3)",
     "ch.md:4:5: error: `categorical` needs float probabilities of shape [k] or [n, k], got int64[2]"),
    ("K = categorical(ones((2,)) / 2, 0)",
     "ch.md:4:5: error: `num_samples` of `categorical` must be a constant int of at least 1, got 0"),
])
def test_draw_arguments_are_checked_when_the_chapter_compiles(src: str, message: str) -> None:
    with pytest.raises(CompileError) as info:
        compile_chapter("# T\n\n```d2l\n" + src + "\n```\n", "ch.md", TARGETS)
    lines = [d.render(("# T\n\n```d2l\n" + src + "\n```\n").splitlines()) for d in info.value.diagnostics]
    assert any(line.splitlines()[0] == message and "hint: " in line for line in lines), lines


def test_a_draw_inside_a_function_is_refused_by_jax_only() -> None:
    text = "# T\n\n```d2l\ndef f(x: f32[n]) -> f32[n]:\n    return x * randint(0, 2, x.shape)\n```\n"
    module = compile_chapter(text, "ch.md", TARGETS)
    with pytest.raises(EmitError) as info:
        build_notebook(module, get_backend("jax"))
    rendered = info.value.diagnostic.render(text.splitlines())
    assert rendered.startswith("ch.md:5:16: error: `randint` inside a function needs an explicit PRNG key in JAX"), rendered
    assert "hint: draw the random values outside the function and pass them in" in rendered
    for target in TARGETS - {"jax"}:
        build_notebook(module, get_backend(target))


def test_check_rejects_exactly_what_compile_rejects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """MXNet's refusal of categorical rows and JAX's of a draw in a function: `d2lc check` says what compile says."""
    from d2lc.cli import main as cli
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.md").write_text(ROWS + "\n```d2l\ndef f(x: f32[n]) -> f32[n]:\n    return x * bernoulli(0.5, x.shape)\n```\n",
                                      encoding="utf-8")
    results = []
    for argv in (["check", "rows.md"], ["compile", "rows.md", "-o", "out"]):
        code = cli.main(argv)
        lines = [ln for ln in capsys.readouterr().err.splitlines() if not ln.startswith("d2lc: ")]
        results.append((code, lines))
    assert results[0] == results[1] and results[0][0] == 1
    errors = [ln for ln in results[0][1] if ": error: " in ln]
    assert sorted(errors) == ["rows.md:10:16: error: `bernoulli` inside a function needs an explicit PRNG key in JAX",
                              "rows.md:5:5: error: op `categorical` is not supported by target `mxnet`"], errors
    assert not (tmp_path / "out").exists()


def test_jax_keeps_a_model_s_init_key_apart_from_a_draw_of_the_same_statement() -> None:
    text = ("# T\n\n```d2l\nmodel M():\n    net = Linear(2)\n    def forward(X: f32[n, 3]):\n        return net(X)\n\n"
            "X = ones((2, 3))\nm = M()\ny = normal((2, 2)) + m(X)\n```\n")
    code = "".join(_code(text, "jax").split())
    assert "key,subkey=jax.random.split(key)key,subkey2=jax.random.split(key)m_variables=m.init(subkey2,X)" in code
    assert "y=jax.random.normal(subkey,(2,2))+m.apply(m_variables,X)" in code
