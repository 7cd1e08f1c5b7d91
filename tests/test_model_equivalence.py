"""Models written once agree across frameworks under one canonical parameter layout; a wrong layout is caught.

Known divergences of the book's models are data (tests/known_model_divergences.txt), each with its reason.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from d2lc.harness import canonical
from d2lc.emit.backend import Layouts, get_backend, target_names
from d2lc.harness.canonical import CanonicalParam, grads_to_canonical, not_invertible, params_to_canonical, params_to_native
from d2lc.harness.known import MODEL_DIVERGENCES, read_known
from d2lc.harness.models import model_cases, run_model_cases
from d2lc.harness.session import Session
from helpers import SHARED_CACHE

ROOT = Path(__file__).resolve().parent.parent
# Every target in one session: the PyTorch reference of each case is computed once for all of them.
BOOK_TARGETS = [n for n in ("pytorch", "tensorflow", "jax", "mxnet", "paddle") if n in target_names()]
KNOWN = ROOT / MODEL_DIVERGENCES

LENET = """
# LeNet

```d2l
model LeNet(num_classes: int = 10):
    net = Sequential(Conv2d(6, kernel=5, padding=2), Sigmoid(), AvgPool2d(2, stride=2),
                     Conv2d(16, kernel=5), Sigmoid(), AvgPool2d(2, stride=2),
                     Flatten(), Linear(120), Sigmoid(), Linear(84), Sigmoid(), Linear(num_classes))
    def forward(X: f32[b, 1, 28, 28]):
        return net(X)

model MLP(num_hiddens: int = 16, num_outputs: int = 10):
    net = Sequential(Flatten(), Linear(num_hiddens), ReLU(), Linear(num_outputs))
    def forward(X: f32[b, 1, 8, 8]):
        return net(X)
```
"""

RECURRENT = """
# Recurrent

```d2l
model TinyGRU(num_hiddens: int = 6):
    rnn = GRU(5, num_hiddens)
    head = Linear(3)
    def forward(X: f32[b, t, 5]):
        return head(rnn(X))

model TinyLSTM(num_hiddens: int = 6):
    rnn = LSTM(5, num_hiddens)
    head = Linear(3)
    def forward(X: f32[b, t, 5]):
        return head(rnn(X))
```
"""


GROUP_NORM = """
# Group normalisation

```d2l
model GroupNormed():
    net = Sequential(Conv2d(6, kernel=3, padding=1), GroupNorm(3, 6), ReLU(), GroupNorm(2, 6, eps=0.001), Flatten(), Linear(4))
    def forward(X: f32[b, 2, 5, 5]):
        return net(X)
```
"""


def known_divergences() -> dict[tuple[str, str, str], str]:
    """(case, check, target) -> reason, from the file `d2lc test` reads too."""
    return {(*row.split(), target): reason for (row, target), reason in read_known(KNOWN).items()}


def _group(cell: str, n_in: int = 3, h: int = 2) -> list[CanonicalParam]:
    gh = len(canonical.GATES[cell]) * h
    shapes = ((gh, n_in), (gh, h), (gh,), (gh,))
    return [CanonicalParam(f"#{i}", role, shape, cell=cell) for i, (role, shape) in enumerate(zip(canonical.RECURRENT_GROUP, shapes))]


LAYOUT_CASES = [(name, cell) for name in canonical.RECURRENT_LAYOUTS for cell in canonical.GATES]


@pytest.mark.parametrize("layout,cell", LAYOUT_CASES, ids=[f"{n}-{c}" for n, c in LAYOUT_CASES])
def test_gradients_go_back_by_the_transpose_of_the_parameter_map(layout, cell):
    """<push(c), n> == <c, pull(n)> for random c and n: the gradient map is the adjoint of the parameter map; and a
    layout either reads its parameters back exactly (a bijection) or says why it cannot (a merged bias)."""
    rng = np.random.default_rng(0)
    params = [CanonicalParam("w", "dense_weight", (2, 3)), *_group(cell)]
    layouts = Layouts(recurrent=layout)
    c = [rng.normal(size=p.shape) for p in params]
    pushed = params_to_native(params, c, layouts)
    n = [rng.normal(size=a.shape) for a in pushed]
    lhs = sum(float((a * b).sum()) for a, b in zip(pushed, n))
    rhs = sum(float((a * b).sum()) for a, b in zip(c, grads_to_canonical(params, n, layouts)))
    assert lhs == pytest.approx(rhs, rel=1e-5)
    if not_invertible(params, layouts) is None:
        back = params_to_canonical(params, pushed, layouts)
        assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(back, c))
        assert sum(a.size for a in pushed) == sum(a.size for a in c)
    else:
        with pytest.raises(ValueError):
            params_to_canonical(params, pushed, layouts)


def test_each_backend_declares_a_known_recurrent_layout():
    for name in target_names():
        assert get_backend(name).layouts.recurrent in canonical.RECURRENT_LAYOUTS, name


@pytest.fixture(scope="module")
def session():
    backends = [get_backend(n) for n in BOOK_TARGETS]
    with Session(backends, call_timeout=300, cache_dir=SHARED_CACHE) as s:
        s.start()
        yield s


def _run(session, paths, backends):
    cases, notes = model_cases(paths)
    return cases, run_model_cases(session, cases, {b.name: b for b in backends})


def test_every_model_in_the_book_agrees(session):
    chapters = [p for p in (ROOT / "sources").rglob("*.md")]
    cases, results = _run(session, chapters, [get_backend(n) for n in BOOK_TARGETS])
    if not cases:
        pytest.skip("the book has no models yet")
    assert {"RNNLM", "GRULM", "LSTMLM"} <= {c.name for c in cases}
    known = known_divergences()
    failing = {(r.case, r.check, r.target): r for r in results if r.status in ("FAIL", "error")}
    new = [r for key, r in failing.items() if key not in known]
    assert not new, "\n".join(f"{r.case} {r.check} | {r.target} | {r.status} {r.max_abs:.2e} {r.detail}" for r in new)
    # A listed row that passes is stale, except an "open:" row driven by run-to-run rounding noise (Adam on
    # parameters whose exact gradient is zero): those may pass in one run and fail in the next.
    stale = [key for key in known if key not in failing and key[2] in BOOK_TARGETS and key[2] in session.available()
             and not known[key].startswith("open")]
    assert not stale, f"fixed: remove from {KNOWN.name}: {stale}"
    ran = {r.target for r in results if r.status == "pass" and r.detail != "reference"}
    assert ran, "no target was compared against the reference"
    by = {(r.case, r.check, r.target): r for r in results}
    for case in ("RNNLM", "GRULM", "LSTMLM"):  # built-in recurrent layers are compared, not skipped
        for target in set(BOOK_TARGETS) & set(session.available()):
            assert by[(case, "forward", target)].status in ("pass", "FAIL"), (case, target)
            assert by[(case, "grads", target)].status in ("pass", "FAIL"), (case, target)
    if "paddle" in session.available():  # Paddle stores its recurrent layers as PyTorch does: nothing is skipped
        assert all(by[(c, k, "paddle")].status == "pass" for c in ("RNNLM", "GRULM", "LSTMLM")
                   for k in ("forward", "grads", "sgd", "adam")), [by[(c, "forward", "paddle")] for c in ("RNNLM",)]
    merged = by.get(("LSTMLM", "adam", "jax"))
    assert merged is None or (merged.status == "skip" and "one bias" in merged.detail)


def test_a_wrong_layout_declaration_is_caught(session, tmp_path):
    """Plant a bug: TensorFlow declares torch's (out, in) dense layout and OIHW kernels. Every model with a
    Linear or Conv2d layer must then FAIL on tensorflow, and only there."""
    chapter = tmp_path / "lenet.md"
    chapter.write_text(LENET, encoding="utf-8")
    tf = get_backend("tensorflow")
    if "tensorflow" not in session.available():
        pytest.skip("TensorFlow is not installed")
    planted = dataclasses.replace(tf, layouts=Layouts(dense_weight="out_in", conv_kernel="OIHW", activations="NHWC"))
    torch = get_backend("pytorch")
    cases, results = _run(session, [chapter], [torch, planted])
    by = {(r.case, r.check, r.target): r.status for r in results}
    assert by[("LeNet", "forward", "tensorflow")] in ("FAIL", "error")
    assert by[("MLP", "forward", "tensorflow")] in ("FAIL", "error")
    assert all(by[(c, "forward", "pytorch")] == "pass" for c in ("LeNet", "MLP"))
    honest = {(r.case, r.check, r.target): r.status for r in _run(session, [chapter], [torch, tf])[1]}
    assert honest[("LeNet", "forward", "tensorflow")] == "pass" and honest[("MLP", "grads", "tensorflow")] == "pass"


def test_a_wrong_recurrent_gate_order_is_caught(session, tmp_path, monkeypatch):
    """Plant a bug: TensorFlow declares a Keras layout with the GRU's gates in torch's order (r, z, n instead of z, r, n),
    and JAX a flax layout with the LSTM's f and g gates swapped. Same shapes, so only the numbers can tell: forward
    must FAIL on exactly those models and targets, while the honest declarations pass."""
    for name in ("tensorflow", "jax"):
        if name not in session.available():
            pytest.skip(f"{name} is not installed")
    chapter = tmp_path / "recurrent.md"
    chapter.write_text(RECURRENT, encoding="utf-8")
    keras = canonical.RECURRENT_LAYOUTS["keras"]
    flax = canonical.RECURRENT_LAYOUTS["flax"]
    wrong_gru = (canonical.kernel("ih"), canonical.kernel("hh"), canonical.bias("b_ih", "b_hh", stack=True))
    wrong_lstm = tuple(n for g in "igfo" for n in (canonical.kernel("ih", g), canonical.kernel("hh", g),
                                                   canonical.bias("b_ih", "b_hh", gates=g)))
    monkeypatch.setitem(canonical.RECURRENT_LAYOUTS, "keras_torch_gates", {**keras, "GRU": wrong_gru})
    monkeypatch.setitem(canonical.RECURRENT_LAYOUTS, "flax_swapped", {**flax, "LSTM": wrong_lstm})
    tf, jax, torch = get_backend("tensorflow"), get_backend("jax"), get_backend("pytorch")
    planted = [torch, dataclasses.replace(tf, layouts=dataclasses.replace(tf.layouts, recurrent="keras_torch_gates")),
               dataclasses.replace(jax, layouts=dataclasses.replace(jax.layouts, recurrent="flax_swapped"))]
    by = {(r.case, r.check, r.target): r.status for r in _run(session, [chapter], planted)[1]}
    assert by[("TinyGRU", "forward", "tensorflow")] == "FAIL"
    assert by[("TinyLSTM", "forward", "jax")] == "FAIL"
    assert by[("TinyLSTM", "forward", "tensorflow")] == "pass" and by[("TinyGRU", "forward", "jax")] == "pass"
    honest = {(r.case, r.check, r.target): r.status for r in _run(session, [chapter], [torch, tf, jax])[1]}
    for key in [("TinyGRU", c, "tensorflow") for c in ("forward", "grads", "sgd", "adam")] + \
               [("TinyLSTM", c, t) for c in ("forward", "grads") for t in ("tensorflow", "jax")]:
        assert honest[key] == "pass", key
    assert honest[("TinyLSTM", "sgd", "jax")] == "skip"


def test_a_vacuous_gradient_comparison_is_an_error(session, tmp_path):
    """Cross-entropy over a single score is constant, so every gradient is zero and any target would 'agree':
    the harness must report that instead of passing it. The chapter's own train(...) picks the loss."""
    chapter = tmp_path / "reg.md"
    chapter.write_text("# Reg\n\n```d2l\nmodel Reg(num_inputs: int = 3, num_outputs: int = 1):\n"
                       "    net = Linear(num_outputs)\n    def forward(X: f32[n, num_inputs]):\n        return net(X)\n```\n",
                       encoding="utf-8")
    torch = get_backend("pytorch")
    cases, _ = model_cases([chapter])
    assert [(c.input_shape, c.loss) for c in cases] == [((6, 3), "squared_loss")]
    honest = run_model_cases(session, cases, {"pytorch": torch})
    assert {r.check: r.status for r in honest} == {"forward": "pass", "grads": "pass", "sgd": "pass", "adam": "pass",
                                                   "train": "pass"}
    cases[0].loss = "cross_entropy"
    planted = {r.check: r for r in run_model_cases(session, cases, {"pytorch": torch})}
    assert planted["grads"].status == "error" and "zero for every parameter" in planted["grads"].detail


HARNESS_CASES = """
# Models the harness once reported as errors

```d2l
model NoParams():
    pool = MaxPool2d(2)
    def forward(X: f32[n, 1, 4, 4]):
        return pool(X).reshape(X.shape[0], -1)

model Inner():
    w = param((4, 3))
    def forward(X: f32[n, 4]):
        return X @ w

model Outer():
    inner = Inner()
    head = Linear(2)
    def forward(X: f32[n, 4]):
        return head(relu(inner(X)))

```
"""


def test_parameter_free_and_nested_models_are_compared(session, tmp_path):
    """No parameters (JAX once raised KeyError 'params'; forward only) and a nested model with its own param(...).
    (Running means after optimizer steps are compared on tests/corpus/models.md.)"""
    chapter = tmp_path / "cases.md"
    chapter.write_text(HARNESS_CASES, encoding="utf-8")
    _, results = _run(session, [chapter], [get_backend(n) for n in BOOK_TARGETS])
    bad = [f"{r.case} {r.check} | {r.target} | {r.status} {r.detail}" for r in results if r.status in ("FAIL", "error")]
    assert not bad, "\n".join(bad)
    assert {(r.case, r.check) for r in results if r.status == "pass" and r.detail != "reference"} >= {
        ("NoParams", "forward"), ("Outer", "sgd"), ("Outer", "train")}


def test_error_headline_is_the_exception_not_a_log_line():
    from d2lc.harness.models import error_headline
    died = ("tensorflow: the worker died while waiting for a reply (exit status -9); it will restart\n"
            "2026-12-01 21:00:00.123456: I tensorflow/core/util/port.cc:153] oneDNN custom operations are on.")
    assert error_headline(died).startswith("tensorflow: the worker died")
    keras = ("Exception encountered when calling Conv2D.call().\n"
             "InvalidArgumentError: Negative dimension size caused by subtracting 3 from 1\n"
             "Arguments received by Conv2D.call():\n  • inputs=tf.Tensor(shape=(2, 1, 1, 4), dtype=float32)")
    assert error_headline(keras) == "InvalidArgumentError: Negative dimension size caused by subtracting 3 from 1"


def test_the_corpus_model_cases_agree(session):
    """tests/corpus/models.md: padding from hyperparameters and expressions, pooling defaults and padding, BatchNorm
    momentum (running means after optimizer steps), NCHW crops and axes in channels-last models, dense on rank 3.
    These cases kill planted emitter bugs the book's models miss (scripts/mutation.py, docs/equivalence.md)."""
    cases, results = _run(session, [ROOT / "tests" / "corpus" / "models.md"], [get_backend(n) for n in BOOK_TARGETS])
    assert {c.name for c in cases} == {"PaddedConvs", "Crops", "Tokens"}
    bad = [f"{r.case} {r.check} | {r.target} | {r.status} {r.max_abs:.2e} {r.detail}" for r in results if r.status in ("FAIL", "error")]
    assert not bad, "\n".join(bad)
    compared = {(r.case, r.target) for r in results if r.status == "pass" and r.detail != "reference"}
    assert {t for _, t in compared} == (set(BOOK_TARGETS) - {"pytorch"}) & set(session.available())


def test_group_norm_agrees_where_it_is_built_and_a_wrong_spelling_is_caught(session, tmp_path, monkeypatch):
    """GroupNorm, added as its spec plus one row per target that spells it differently: forward, gradients and
    optimizer steps agree with PyTorch; MXNet (per-group scales) refuses it when emitting. Planted: Keras left at its
    own epsilon (1e-3) and flax handed the channel count as the group count must FAIL forward."""
    from d2lc.emit.model_code import LayerRow
    from d2lc_targets.jax import models as jax_models
    from d2lc_targets.tensorflow import models as tf_models
    chapter = tmp_path / "groupnorm.md"
    chapter.write_text(GROUP_NORM, encoding="utf-8")
    _, results = _run(session, [chapter], [get_backend(n) for n in BOOK_TARGETS])
    by = {(r.check, r.target): r for r in results}
    built = set(BOOK_TARGETS) & set(session.available()) - {"pytorch", "mxnet"}
    assert built, "no target to compare GroupNorm on"
    for target in built:
        for check in ("forward", "grads", "sgd", "adam", "train"):
            assert by[(check, target)].status == "pass", (check, target, by[(check, target)].detail)
    if "mxnet" in session.available():
        assert by[("forward", "mxnet")].status == "error" and "GroupNorm" in by[("forward", "mxnet")].detail
    monkeypatch.setitem(tf_models.LAYER_ROWS, "GroupNorm", LayerRow(tf_models.K + "GroupNormalization", (), {"groups": "!num_groups"}))
    monkeypatch.setitem(jax_models.LAYER_ROWS, "GroupNorm", LayerRow("nn.GroupNorm", (), {"num_groups": "!num_channels", "epsilon": "!eps"}))
    planted = [get_backend(n) for n in ("pytorch", "tensorflow", "jax") if n in session.available()]
    wrong = {r.target: r.status for r in _run(session, [chapter], planted)[1] if r.check == "forward"}
    assert all(wrong[t] == "FAIL" for t in ("tensorflow", "jax") if t in wrong), wrong


GROUPED_CONV = """
# Grouped convolutions

```d2l
model Grouped():
    net = Sequential(Conv2d(8, kernel=3, padding=1, groups=4), ReLU(), Conv2d(6, kernel=1, groups=2), Flatten(), Linear(3))
    def forward(X: f32[b, 4, 5, 5]):
        return net(X)
```
"""


def test_grouped_convolutions_agree_and_a_dense_spelling_is_caught(session, tmp_path, monkeypatch):
    """Conv2d(..., groups=g), one keyword per target (PyTorch, gluon, Paddle `groups=`, Keras `groups=`, flax
    `feature_group_count=`): forward, gradients, optimizer steps and training agree with PyTorch on every target.
    Planted: gluon's row without `groups` builds dense convolutions, which must not pass."""
    from d2lc.emit.model_code import LayerRow
    from d2lc_targets.mxnet import models as mx_models
    chapter = tmp_path / "grouped.md"
    chapter.write_text(GROUPED_CONV, encoding="utf-8")
    names = [n for n in (*BOOK_TARGETS, "paddle") if n in target_names() and n in session.available()]
    _, results = _run(session, [chapter], [get_backend(n) for n in names])
    by = {(r.check, r.target): r for r in results}
    compared = set(names) - {"pytorch"}
    assert compared, "no target to compare grouped convolutions on"
    for target in compared:
        for check in ("forward", "grads", "sgd", "adam", "train"):
            assert by[(check, target)].status == "pass", (check, target, by[(check, target)].detail)
    if "mxnet" in compared:
        monkeypatch.setitem(mx_models.LAYER_ROWS, "Conv2d", LayerRow("nn.Conv2D", ("out_channels",), {
            "kernel_size": "!kernel", "strides": "stride", "padding": "padding"}))
        wrong = {r.target: r.status for r in _run(session, [chapter], [get_backend("pytorch"), get_backend("mxnet")])[1]
                 if r.check == "forward"}
        assert wrong["mxnet"] != "pass", wrong


def test_the_describing_backend_is_chosen_by_its_capability(monkeypatch):
    """The harness names no framework: the canonical parameter order comes from whichever available backend
    declares `describes_models`."""
    import d2lc.emit.backend as backend_module
    from d2lc.harness.models import describing_backend
    torch = get_backend("pytorch")
    fake = {"pytorch": torch.derive(describes_models=False), "other": torch.derive(name="other")}
    monkeypatch.setattr(backend_module, "registry", lambda: fake)
    assert describing_backend({"pytorch", "other"}).name == "other"
    assert describing_backend({"pytorch"}) is None


BIAS_BEFORE_BN = """
# A bias before batch normalisation

```d2l
model BiasBeforeBN():
    conv = Conv2d(3, kernel=3, padding=1)
    bn = BatchNorm2d()
    head = Sequential(Flatten(), Linear(4))
    def forward(X: f32[n, 2, 5, 5]):
        return head(relu(bn(conv(X))))
```
"""


def test_adam_on_a_bias_before_batch_norm_is_compared_honestly(session, tmp_path, monkeypatch):
    """The conv bias before BatchNorm has an exactly zero gradient: Adam moves it by lr-sized steps of a sign rounding
    sets, and the running mean after it integrates them. Those elements are not compared (the bias by its reference
    gradient, the running mean because the reference itself does not reproduce it from parameters 1 ulp away), so
    every honest target passes (before, the masks were zipped against the wrong arrays and the running means were
    compared: FAIL), while a planted wrong Adam beta on JAX still FAILs, step by step too."""
    from d2lc_targets.jax.models import JaxModels
    chapter = tmp_path / "bias_bn.md"
    chapter.write_text(BIAS_BEFORE_BN, encoding="utf-8")
    _, results = _run(session, [chapter], [get_backend(n) for n in BOOK_TARGETS])
    by = {(r.check, r.target): r for r in results}
    compared = set(BOOK_TARGETS) & set(session.available()) - {"pytorch"}
    assert compared, "no target to compare"
    for target in compared:
        for check in ("forward", "grads", "sgd", "adam", "train"):
            assert by[(check, target)].status == "pass", (check, target, by[(check, target)].detail)
        assert "zero-gradient elements not compared, 3 running-statistic elements" in by[("adam", target)].detail
    if "jax" not in session.available():
        return
    honest = JaxModels.construct

    def wrong_beta(self, c):
        if c.kind == "Adam":
            import libcst as cst
            return cst.parse_expression(f"optax.adam({c.args['lr'].value}, b1=0.5)")
        return honest(self, c)

    monkeypatch.setattr(JaxModels, "construct", wrong_beta)
    planted = {r.check: r for r in _run(session, [chapter], [get_backend("pytorch"), get_backend("jax")])[1]
               if r.target == "jax"}
    assert planted["adam"].status == "FAIL" and planted["sgd"].status == "pass", planted
    # the per-step check (harness/shadow.py) ran and did not excuse it: the wrong beta shows from the same start
    assert "from the same parameters and state, step 2 differs" in planted["adam"].detail, planted["adam"].detail


def test_building_a_model_moves_no_batch_norm_statistics():
    """The harness' pass that builds lazy layers runs in eval mode, so BatchNorm's running statistics (and PyTorch's
    batch counter) are the ones the harness loads, not moved by a batch the chapter never trained on."""
    torch = pytest.importorskip("torch")
    glue = (ROOT / "targets" / "pytorch" / "snippets" / "harness_models.py").read_text(encoding="utf-8")
    ns = {"torch": torch, "nn": torch.nn}
    exec(compile(glue, "harness_models.py", "exec"), ns)
    net = torch.nn.Sequential(torch.nn.LazyLinear(3), torch.nn.BatchNorm1d(3))
    ns["d2lc_build"](net, torch.randn(8, 4) + 5.0)
    norm = net[1]
    assert torch.equal(norm.running_mean, torch.zeros(3)) and torch.equal(norm.running_var, torch.ones(3))
    assert int(norm.num_batches_tracked) == 0 and net.training
