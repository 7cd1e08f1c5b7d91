"""Stated initialisers on built-in layers: every target draws the parameters the DSL states.

Each model below is built in every available framework by the harness workers, exactly as the model
equivalence tests build it (compiler/harness/models.py), and its freshly initialised parameters are
read back, converted to the canonical layout, and checked against the stated distribution: mean and
standard deviation within six standard errors, the share of a normal sample within one standard
deviation (which a uniform or truncated draw misses), the bounds of a uniform draw (Glorot's bound for
`xavier`), and exact values for constants. A wrong mean, scale, bound or shape fails; a correct draw
fails with a probability far below 1e-6.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.harness.canonical import activation_to_native, to_canonical
from d2lc.emit.base import EmitError
from d2lc.harness.models import describe, draw_input, model_cases
from d2lc.harness.session import Session
from d2lc.build.modgen import model_module_source
from helpers import SHARED_CACHE

CHAPTER = """# Initialisers

```d2l
model Dense():
    net = Sequential(Linear(256, init=normal(0.0, 0.02)), ReLU(),
                     Linear(128, init=uniform(-0.3, 0.3), bias_init=constant(0.7)), ReLU(),
                     Linear(96, init=xavier, bias_init=ones))
    def forward(X: f32[n, 128]):
        return net(X)

model Conv():
    net = Sequential(Conv2d(64, kernel=3, init=xavier), ReLU(),
                     Conv2d(64, kernel=3, padding=1, init=normal(0.0, 0.05), bias_init=uniform(-0.2, 0.2)))
    def forward(X: f32[n, 8, 12, 12]):
        return net(X)

model Tokens():
    embed = Embedding(200, 64, init=normal(0.0, 0.3))
    head = Linear(32, init=zeros, bias_init=constant(-0.25))
    def forward(X: i64[b, t]):
        return head(embed(X))
```
"""
DEFAULTS = """# No initialiser stated: the language's defaults (docs/dsl.md), spelt out on every target

```d2l
model DefaultDense():
    net = Sequential(Linear(256), ReLU(), Linear(96))
    def forward(X: f32[n, 128]):
        return net(X)

model DefaultConv():
    net = Sequential(Conv2d(64, kernel=3), ReLU())
    def forward(X: f32[n, 8, 12, 12]):
        return net(X)

model DefaultTokens():
    embed = Embedding(200, 64)
    def forward(X: i64[b, t]):
        return embed(X)
```
"""
SHIFTED = """# Initialisers gluon has no built-in for (a normal with a mean other than 0, an asymmetric uniform range)

```d2l
model Shifted():
    net = Sequential(Linear(256, init=normal(0.5, 0.02)), Linear(64, init=uniform(0.2, 0.6)))
    def forward(X: f32[n, 128]):
        return net(X)
```
"""


@dataclass(frozen=True)
class Normal:
    mean: float
    std: float


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float


@dataclass(frozen=True)
class Xavier:
    fan_in: int
    fan_out: int


@dataclass(frozen=True)
class Const:
    value: float


# model -> (canonical shape, stated distribution) of every parameter, in canonical order
EXPECTED = {
    "Dense": [((256, 128), Normal(0.0, 0.02)), ((256,), Const(0.0)),
              ((128, 256), Uniform(-0.3, 0.3)), ((128,), Const(0.7)),
              ((96, 128), Xavier(128, 96)), ((96,), Const(1.0))],
    "Conv": [((64, 8, 3, 3), Xavier(8 * 9, 64 * 9)), ((64,), Const(0.0)),
             ((64, 64, 3, 3), Normal(0.0, 0.05)), ((64,), Uniform(-0.2, 0.2))],
    "Tokens": [((200, 64), Normal(0.0, 0.3)), ((32, 64), Const(0.0)), ((32,), Const(-0.25))],
    "Shifted": [((256, 128), Normal(0.5, 0.02)), ((256,), Const(0.0)),
                ((64, 256), Uniform(0.2, 0.6)), ((64,), Const(0.0))],
    # the language's defaults: Glorot's uniform weights, zero biases, N(0, 1) embeddings
    "DefaultDense": [((256, 128), Xavier(128, 256)), ((256,), Const(0.0)), ((96, 256), Xavier(256, 96)), ((96,), Const(0.0))],
    "DefaultConv": [((64, 8, 3, 3), Xavier(8 * 9, 64 * 9)), ((64,), Const(0.0))],
    "DefaultTokens": [((200, 64), Normal(0.0, 1.0))],
}
UNSPELLABLE: dict[str, set[str]] = {}  # targets that must refuse a model as a declared gap (none today)
Z = 6.0  # standard errors allowed

INIT_ENTRY = """

def d2lc_case_init(X):
    return tuple(d2lc_params(d2lc_build(MODEL(), X)))
"""


def check(value: np.ndarray, want) -> list[str]:
    """Why `value` is not a draw from `want` (empty if it is)."""
    a = np.asarray(value, np.float64).ravel()
    n = a.size
    problems = []
    if isinstance(want, Const):
        if not np.all(a == np.float32(want.value)):
            problems.append(f"not all {want.value}: values in [{a.min():.4g}, {a.max():.4g}]")
        return problems
    if isinstance(want, Normal):
        mean, std = a.mean(), a.std()
        if abs(mean - want.mean) > Z * want.std / math.sqrt(n):
            problems.append(f"mean {mean:.5g}, want {want.mean}")
        if abs(std / want.std - 1) > Z / math.sqrt(2 * n):
            problems.append(f"std {std:.5g}, want {want.std}")
        inside = np.mean(np.abs(a - want.mean) < want.std)
        p = math.erf(1 / math.sqrt(2))
        if abs(inside - p) > Z * math.sqrt(p * (1 - p) / n):
            problems.append(f"{inside:.3f} of the values within one std, a normal has {p:.3f}")
        return problems
    low, high = (want.low, want.high) if isinstance(want, Uniform) else (-1, 1)
    if isinstance(want, Xavier):
        bound = math.sqrt(6 / (want.fan_in + want.fan_out))
        low, high = -bound, bound
    width = high - low
    if a.min() < low - 1e-7 or a.max() > high + 1e-7:
        problems.append(f"values in [{a.min():.5g}, {a.max():.5g}], outside [{low:.5g}, {high:.5g}]")
    if n >= 1000:
        if abs(a.mean() - (low + high) / 2) > Z * width / math.sqrt(12 * n):
            problems.append(f"mean {a.mean():.5g}, want {(low + high) / 2:.5g}")
        if abs(a.std() / (width / math.sqrt(12)) - 1) > Z * math.sqrt(0.8 / n) / 2:
            problems.append(f"std {a.std():.5g}, want {width / math.sqrt(12):.5g}")
    if a.min() > low + 0.2 * width or a.max() < high - 0.2 * width:  # a narrower range; P < 1e-6 for 64 draws
        problems.append(f"values in [{a.min():.5g}, {a.max():.5g}] do not span [{low:.5g}, {high:.5g}]")
    return problems


@pytest.fixture(scope="module")
def session():
    backends = [get_backend(n) for n in target_names()]
    with Session(backends, call_timeout=300, cache_dir=SHARED_CACHE) as s:
        s.start()
        if "pytorch" not in s.available():
            pytest.skip("PyTorch (which defines the canonical parameter order) is not available")
        yield s


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inits")
    for name, text in (("portable.md", CHAPTER), ("shifted.md", SHIFTED), ("defaults.md", DEFAULTS)):  # a harness module holds a whole chapter
        (folder / name).write_text(text, encoding="utf-8")
    found, notes = model_cases([folder])
    assert not notes, notes
    return {c.name: c for c in found}


def initialised(session, case, backend, X) -> list[np.ndarray]:
    """The parameters `backend` gives a freshly built `case` model, in canonical order and layout."""
    params = describe(session, case, X)
    assert not isinstance(params, str), params
    source = model_module_source(case.module, backend, case.name, case.hparams, case.loss) + INIT_ENTRY.replace("MODEL", case.name)
    key = f"inits-{case.name}-{id(backend)}"
    worker = session.worker_for(backend.name)
    worker.add_module(backend.name, key, source)
    arrays = worker.call(backend.name, key, "d2lc_case_init", [activation_to_native(X, backend.layouts)]).value
    assert len(arrays) == len(params), f"{backend.name}: {len(arrays)} parameters, the canonical list has {len(params)}"
    return [to_canonical(p, np.asarray(a), backend.layouts) for p, a in zip(params, arrays)]


def problems_of(session, case, backend) -> list[str]:
    X = draw_input(case, 0)
    out = []
    for i, (got, (shape, want)) in enumerate(zip(initialised(session, case, backend, X), EXPECTED[case.name])):
        if got.shape != shape:
            out.append(f"#{i}: shape {got.shape}, want {shape}")
        else:
            out.extend(f"#{i} {type(want).__name__}: {p}" for p in check(got, want))
    return out


@pytest.mark.parametrize("target", target_names())
@pytest.mark.parametrize("model", list(EXPECTED))
def test_every_target_draws_the_stated_initialisers(session, cases, model, target):
    if target not in session.available():
        pytest.skip(session.targets[target].why or f"{target} is not available")
    backend = get_backend(target)
    if target in UNSPELLABLE.get(model, ()):
        with pytest.raises(EmitError, match=f"is not supported by target `{target}`"):
            model_module_source(cases[model].module, backend, model, cases[model].hparams, cases[model].loss)
        return
    problems = problems_of(session, cases[model], backend)
    assert not problems, f"{target} {model}:\n" + "\n".join(problems)


def test_a_wrong_initialiser_is_caught(session, cases, monkeypatch):
    """Plant a bug: TensorFlow spells normal(mean, std) as Keras' TruncatedNormal (cut at two standard
    deviations, so its spread is 12% smaller and too many values lie within one std)."""
    if "tensorflow" not in session.available():
        pytest.skip("TensorFlow is not available")
    from d2lc_targets.tensorflow import inits
    monkeypatch.setitem(inits.INITIALIZERS, "normal", ("tf.keras.initializers.TruncatedNormal", ("mean=mean", "stddev=std")))
    problems = problems_of(session, cases["Dense"], get_backend("tensorflow"))
    assert any(p.startswith("#0 Normal: std") for p in problems), problems
    assert any("within one std" in p for p in problems), problems
    assert not any(p.startswith(("#1", "#2", "#3", "#4", "#5")) for p in problems), problems


def test_a_framework_default_is_caught(session, cases, monkeypatch):
    """Plant a bug: the language states no defaults, so PyTorch keeps its own (Kaiming's uniform with a = sqrt(5),
    a bound of 1/sqrt(fan_in), and non-zero biases): the default-initialiser checks must fail for it."""
    from d2lc.core import layers
    monkeypatch.setattr(layers, "DEFAULT_INITS", {})
    problems = problems_of(session, cases["DefaultDense"], get_backend("pytorch"))
    assert any(p.startswith("#0 Xavier") for p in problems), problems
    assert any(p.startswith("#1 Const") for p in problems), problems


def test_the_checks_reject_wrong_draws():
    """The statistics themselves: a doubled std, a shifted mean, a one-sided or too wide range all fail."""
    rng = np.random.default_rng(0)
    assert not check(rng.normal(0.0, 0.02, (256, 128)), Normal(0.0, 0.02))
    assert check(rng.normal(0.0, 0.04, (256, 128)), Normal(0.0, 0.02))
    assert check(rng.normal(0.001, 0.02, (256, 128)), Normal(0.0, 0.02))
    assert check(rng.uniform(-0.02 * 3 ** 0.5, 0.02 * 3 ** 0.5, (256, 128)), Normal(0.0, 0.02))  # same std, not normal
    assert not check(rng.uniform(-0.3, 0.3, (128, 256)), Uniform(-0.3, 0.3))
    assert check(rng.uniform(0.0, 0.3, (128, 256)), Uniform(-0.3, 0.3))
    assert check(rng.uniform(-0.6, 0.6, (128, 256)), Uniform(-0.3, 0.3))
    bound = math.sqrt(6 / (128 + 96))
    assert not check(rng.uniform(-bound, bound, (96, 128)), Xavier(128, 96))
    assert check(rng.uniform(-bound, bound, (96, 128)) * math.sqrt(2), Xavier(128, 96))  # He's scale, not Glorot's
    assert check(np.full(8, 0.7000001), Const(0.7)) and not check(np.full(8, np.float32(0.7)), Const(0.7))
