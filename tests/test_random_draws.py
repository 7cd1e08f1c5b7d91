"""The random draws `randint` and `bernoulli` on every target.

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
```
"""

REPORT = """
import json as _json, numpy as _numpy
def _np(v):
    return v.asnumpy() if hasattr(v, "asnumpy") else _numpy.asarray(v)
print("D2LC " + _json.dumps({n: [str(_np(v).dtype), list(_np(v).shape), sorted(set(_np(v).ravel().tolist()))[:8],
                                  float(_np(v).mean())] for n, v in [("R", R), ("B", B), ("C", C), ("D", D)]}))
"""


def _code(text: str, target: str) -> str:
    module = compile_chapter(text, "draws.md", TARGETS)
    return "\n".join(src for kind, src, _ in emit_cells(module, get_backend(target)) if kind == "code")


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_draws_lie_in_their_range_with_their_frequencies(target: str, tmp_path: Path) -> None:
    if not available_backends([target]):
        pytest.skip(f"{target} is not installed")
    script = tmp_path / "draws.py"
    script.write_text(_code(DRAWS, target) + REPORT, encoding="utf-8")
    env = {**os.environ, **FRAMEWORK_ENV}
    out = subprocess.run([str(python_for(get_backend(target))), str(script)], capture_output=True, text=True, env=env,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    [line] = [ln for ln in out.stdout.splitlines() if ln.startswith("D2LC ")]
    got = json.loads(line[5:])
    dtype, shape, values, mean = got["R"]
    assert dtype in ("int64", "int32") and shape == [4000] and values == [2, 3, 4], got["R"]  # int32: JAX without x64
    assert abs(mean - 3.0) < 0.1
    dtype, shape, values, mean = got["B"]
    assert dtype == "float32" and shape == [4000] and values == [0.0, 1.0] and abs(mean - 0.25) < 0.05, got["B"]
    assert got["C"][:3] == ["float32", [2, 3], [1.0]]  # p = 1 always draws 1; randint(0, 1) always 0
    assert got["D"][0] == "float32" and got["D"][1] == [2, 3] and set(got["D"][2]) <= {0.0, 2.0, 4.0, 6.0, 8.0, 10.0}


def test_draws_are_compared_by_dtype_and_shape_only() -> None:
    analysis = analyse(compile_chapter(DRAWS, "draws.md", TARGETS))
    marks = {b.name: b.deterministic for bs in analysis.bindings.values() for b in bs}
    assert marks["X"] and not marks["R"] and not marks["B"] and not marks["D"] and not marks["C"]


def test_jax_gives_every_draw_of_a_statement_its_own_key() -> None:
    code = "".join(_code(DRAWS, "jax").split())  # without the formatter's line breaks
    assert "key,subkey=jax.random.split(key)key,subkey2=jax.random.split(key)C=" in code
    assert "jax.random.bernoulli(subkey,1.0,(2,3))" in code and "jax.random.randint(subkey2,(2,3),0,1)" in code
    assert "jax.random.randint(subkey,(4000,),2,5)" in code


@pytest.mark.parametrize("src, message", [
    ("R = randint(5, 2, (3,))", "ch.md:4:5: error: `randint` needs low < high, got randint(5, 2, ...)"),
    ("R = randint(0.5, 2, (3,))", "ch.md:4:5: error: `randint` needs int bounds, got low=float"),
    ("B = bernoulli(1.5, (3,))", "ch.md:4:5: error: `bernoulli` with a probability of 1.5"),
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
