"""Input strategies and the IR facts behind them: shared symbols, value domains, gradient rows."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from d2lc.emit.backend import target_names
from d2lc.build.checked import compile_chapter
from d2lc.harness.analysis import analyze
from d2lc.harness.strategies import MAX_DIM, MIN_DIM, examples, grid_values, param_specs, shape_pool

CHAPTER = '''# t
```d2l
def shared(X: f32[n, k], w: f32[k], Y: f32[k, m], s: float, i: int, flag: bool) -> f32[n, m]:
    return (X * w) @ Y

def logs(x: f32[n], y: f32[n], z: f32[n]) -> f32[n]:
    return log(x + 1.0) + z / y

def ties(X: f32[n, k]) -> i64[n]:
    return X.argmax(axis=1)

def pick(X: f32[n, k], i: int, j: int) -> f32[]:
    return X[i, j]

def labels(y_hat: f32[n, k], y: i64[n]) -> f32[n]:
    out = zeros((len(y),))
    for i in range(len(y)):
        out[i] = -log(y_hat[i, int(y[i])])
    return out

def ce(logits: f32[b, c], y: i64[b]) -> f32[]:
    return cross_entropy(logits, y)

def calls(A: f32[p, q], t: i64[p]) -> f32[p]:
    return labels(A, t)

def grads(X: f32[n, k], W: f32[k, m], c: f32[n, m], M: f32[n, m]) -> f32[n, m]:
    return (X @ W).detach() + c * 2.0 + argmax(M, axis=1).astype(float32).unsqueeze(1)

def no_grads(X: f32[n]) -> i64[]:
    return argmax(X)
```
'''


def _module():
    return compile_chapter(CHAPTER, "t.md", set(target_names()))


MODULE = _module()
FACTS = analyze(MODULE)


def _specs(name):
    f = MODULE.functions[name]
    return param_specs(f, FACTS[name].domains)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_symbols_are_shared_across_parameters(data):
    ex = data.draw(examples(_specs("shared")))
    n, k, m = ex.dims["n"], ex.dims["k"], ex.dims["m"]
    assert all(MIN_DIM <= d <= MAX_DIM for d in (n, k, m))
    assert ex.args["X"].shape == (n, k) and ex.args["w"].shape == (k,) and ex.args["Y"].shape == (k, m)
    assert ex.args["X"].dtype == np.float32
    assert isinstance(ex.args["s"], float) and isinstance(ex.args["i"], int) and isinstance(ex.args["flag"], bool)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_pooled_sizes_come_from_the_pool(data):
    pool = shape_pool(seed=7)
    ex = data.draw(examples(_specs("shared"), pool))
    assert (ex.dims["n"], ex.dims["k"], ex.dims["m"]) in {v[:3] for v in pool}
    assert ex.args["w"].shape == (ex.dims["k"],)


def test_shape_pool_is_seeded_and_starts_with_distinct_sizes_then_ones():
    assert shape_pool(3) == shape_pool(3)
    first = shape_pool(3)[0]
    assert len(set(first[:4])) == 4 and min(first) > 1
    assert shape_pool(3)[1] == (1,) * len(first)
    assert len(set(shape_pool(3))) == len(shape_pool(3)) == 4


def test_domains_follow_the_ops():
    d = FACTS["logs"].domains
    assert d["x"].positive and d["y"].positive and not d["z"].positive
    assert FACTS["ties"].domains["X"].distinct
    assert FACTS["pick"].domains["i"].index_bounds == {"n"} and FACTS["pick"].domains["j"].index_bounds == {"k"}
    assert FACTS["labels"].domains["y"].index_bounds == {"k"}
    assert FACTS["ce"].domains["y"].index_bounds == {"c"}
    assert FACTS["calls"].domains["t"].index_bounds == {"q"}  # through a call, in the caller's symbols


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_drawn_values_respect_domains(data):
    ex = data.draw(examples(_specs("logs")))
    assert (ex.args["x"] > 0).all() and (ex.args["y"] > 0).all()
    ex = data.draw(examples(_specs("ties")))
    assert len(np.unique(ex.args["X"])) == ex.args["X"].size
    ex = data.draw(examples(_specs("pick")))
    assert 0 <= ex.args["i"] < ex.dims["n"] and 0 <= ex.args["j"] < ex.dims["k"]
    ex = data.draw(examples(_specs("labels")))
    assert ((0 <= ex.args["y"]) & (ex.args["y"] < ex.dims["k"])).all()


def test_grid_values_avoid_kinks():
    k = np.arange(-400, 400)
    v = grid_values(k, 0.38, np.float64)
    assert not np.any(v == 0) and not np.any(v == np.round(v)) and not np.any(v * 2 == np.round(v * 2))
    assert len(np.unique(v)) == len(v)


def test_gradient_rows_only_for_differentiable_inputs():
    assert FACTS["shared"].grad_params == ["X", "w", "Y"]
    assert FACTS["grads"].grad_params == ["c"]  # X, W only through detach; M only through argmax
    assert FACTS["no_grads"].grad_params == []
    assert FACTS["logs"].grad_params == ["x", "y", "z"]
    assert FACTS["labels"].grad_params == ["y_hat"]
