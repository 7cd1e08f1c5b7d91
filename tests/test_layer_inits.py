"""Stated initialisers on built-in layers: every target draws the parameters the DSL states.

Each model below is built in every available framework by the harness workers, exactly as the model
equivalence tests build it (compiler/harness/models.py), and its freshly initialised parameters are
read back, converted to the canonical layout, and checked against the stated distribution: mean and
standard deviation within six standard errors, the share of a normal sample within one standard
deviation (which a uniform or truncated draw misses), the bounds of a uniform draw (Glorot's bound for
`xavier`), and exact values for constants. A wrong mean, scale, bound or shape fails; a correct draw
fails with a probability far below 1e-6.

A recurrent layer's arrays are checked as the framework stores them (canonical.RECURRENT_LAYOUTS: Keras'
kernels, flax's Dense per gate, a bias that stands for b_ih + b_hh): each weight against the language's
U(-1/sqrt(h), 1/sqrt(h)), each bias, merged or not, against zero, so the effective bias and every parameter
both match.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.harness.canonical import activation_to_native, param_groups, params_to_native, to_canonical
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

model DefaultRecurrent():
    rnn = RNN(48, 64)
    gru = GRU(64, 64, num_layers=2, bidirectional=True)
    lstm = LSTM(128, 64)
    def forward(X: f32[b, t, 48]):
        return lstm(gru(rnn(X)))

model DefaultLazy():
    net = Sequential(Conv2d(64, kernel=3, padding=1), ReLU(), Flatten(), Linear(96))
    def forward(X: f32[n, c, h, w]):
        return net(X)
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


def _recurrent(gates_h: int, n_in: int, h: int) -> list[tuple[tuple[int, ...], object]]:
    """One recurrent layer's canonical group (one direction): weight_ih, weight_hh, bias_ih, bias_hh."""
    w = Uniform(-1 / math.sqrt(h), 1 / math.sqrt(h))
    return [((gates_h, n_in), w), ((gates_h, h), w), ((gates_h,), Const(0.0)), ((gates_h,), Const(0.0))]


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
    # recurrent: every weight U(-1/sqrt(h), 1/sqrt(h)), every bias zero (h = 64), per layer and direction
    "DefaultRecurrent": [*_recurrent(64, 48, 64), *_recurrent(3 * 64, 64, 64), *_recurrent(3 * 64, 64, 64),
                         *_recurrent(3 * 64, 128, 64), *_recurrent(3 * 64, 128, 64), *_recurrent(4 * 64, 128, 64)],
    # forward's annotation gives no input size (4 channels of 4 x 4 when drawn): PyTorch's layers are lazy
    "DefaultLazy": [((64, 4, 3, 3), Xavier(4 * 9, 64 * 9)), ((64,), Const(0.0)), ((96, 64 * 16), Xavier(64 * 16, 96)), ((96,), Const(0.0))],
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


SOURCES = {"ih": 0, "hh": 1, "b_ih": 2, "b_hh": 3}  # a Native's sources, in the canonical group


def native_arrays(session, case, backend, X) -> tuple[list, list[np.ndarray]]:
    """The canonical parameter list, and the arrays `backend` gives a freshly built `case` model, in its own order."""
    params = describe(session, case, X)
    assert not isinstance(params, str), params
    source = model_module_source(case.module, backend, case.name, case.hparams, case.loss) + INIT_ENTRY.replace("MODEL", case.name)
    key = f"inits-{case.name}-{id(backend)}"
    worker = session.worker_for(backend.name)
    worker.add_module(backend.name, key, source)
    arrays = worker.call(backend.name, key, "d2lc_case_init", [activation_to_native(X, backend.layouts)]).value
    return params, [np.asarray(a) for a in arrays]


def stored(want: list) -> object:
    """The distribution of one stored array that is the sum of canonical ones (a merged recurrent bias)."""
    if len(want) == 1:
        return want[0]
    assert all(isinstance(w, Const) for w in want), f"no statement for a sum of {want}"
    return Const(sum(w.value for w in want))


def expected_arrays(params, layouts, expected) -> list[tuple[str, tuple[int, ...], object]]:
    """(label, shape, distribution) of every array the framework stores, in its order: a one-to-one parameter in
    the canonical layout (label `#i`), a recurrent layer's arrays as the framework groups them (`#i.j`)."""
    out = []
    for start, count, natives in param_groups(params, layouts):
        if natives is None:
            out.append((f"#{start}", *expected[start]))
            continue
        group = expected[start:start + count]
        shapes = [a.shape for a in params_to_native(params[start:start + count], [np.zeros(s, np.float32) for s, _ in group], layouts)]
        for j, (n, shape) in enumerate(zip(natives, shapes, strict=True)):
            out.append((f"#{start}.{j}", shape, stored([group[SOURCES[src]][1] for src in n.sources])))
    return out


def problems_of(session, case, backend) -> list[str]:
    X = draw_input(case, 0)
    params, arrays = native_arrays(session, case, backend, X)
    want = EXPECTED[case.name]
    assert [p.shape for p in params] == [shape for shape, _ in want], f"canonical shapes {[p.shape for p in params]}"
    expected = expected_arrays(params, backend.layouts, want)
    assert len(arrays) == len(expected), f"{backend.name}: {len(arrays)} arrays, its layout has {len(expected)}"
    out = []
    canonical = {f"#{start}": params[start] for start, _, natives in param_groups(params, backend.layouts) if natives is None}
    for got, (label, shape, dist) in zip(arrays, expected):
        if label in canonical:
            got = to_canonical(canonical[label], got, backend.layouts)
        if got.shape != shape:
            out.append(f"{label}: shape {got.shape}, want {shape}")
        else:
            out.extend(f"{label} {type(dist).__name__}: {p}" for p in check(got, dist))
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


def test_keras_forget_gate_bias_is_caught(session, cases, monkeypatch):
    """Plant a bug: Keras' LSTM keeps its own forget-gate bias of 1 (`unit_forget_bias=False` left out): only the
    LSTM's bias (canonical group at #20, Keras' third array) fails, on its forget block."""
    if "tensorflow" not in session.available():
        pytest.skip("TensorFlow is not available")
    from d2lc.emit.inits import RecurrentInits
    from d2lc_targets.tensorflow import inits, models
    monkeypatch.setattr(models.TensorFlowModels, "recurrent_inits", RecurrentInits(inits.RECURRENT_INITS.weights))
    problems = problems_of(session, cases["DefaultRecurrent"], get_backend("tensorflow"))
    assert problems and all(p.startswith("#20.2 Const: not all 0.0: values in [0, 1]") for p in problems), problems


def test_pytorch_recurrent_biases_are_checked(session, cases, monkeypatch):
    """Plant a bug: PyTorch's recurrent biases keep its own U(-1/sqrt(h), 1/sqrt(h)) (no zeroing loop): every
    bias of every layer and direction fails, and no weight does."""
    from d2lc_targets.pytorch import models
    monkeypatch.setattr(models.PyTorchModels, "recurrent_bias_statements", lambda self, target: [])
    problems = problems_of(session, cases["DefaultRecurrent"], get_backend("pytorch"))
    failing = {p.split()[0] for p in problems}
    assert failing == {f"#{g}.{j}" for g in range(0, 24, 4) for j in (2, 3)}, problems


def test_a_lazy_pytorch_layer_is_checked(session, cases, monkeypatch):
    """Plant a bug: PyTorch's lazy layers keep PyTorch's own initialisation (Kaiming's uniform, non-zero biases;
    no `lazy_xavier`): all four parameters fail."""
    from d2lc_targets.pytorch import models
    monkeypatch.setattr(models.PyTorchModels, "initialised_when_built", lambda self, layer: False)
    problems = problems_of(session, cases["DefaultLazy"], get_backend("pytorch"))
    assert {p.split()[0] for p in problems} == {"#0", "#1", "#2", "#3"}, problems


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
