"""Layer lists in model bodies (docs/dsl.md, "Layer lists and loops"): VGG-style blocks built in loops, lists of
layers and of models iterated in forward, Sequential of models, stated initialisers in loops. Every target agrees with
PyTorch under the canonical parameter layout; a planted emission bug (one pass of a loop dropped on JAX) is caught."""
from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.harness.models import model_cases, run_model_cases
from d2lc.harness.session import Session
from helpers import SHARED_CACHE

TARGETS = [n for n in ("pytorch", "tensorflow", "jax", "mxnet", "paddle") if n in target_names()]

LISTS = """
# Layer lists

```d2l
model VGGBlock(num_convs: int = 2, out_channels: int = 6):
    layers = []
    for i in range(num_convs):
        layers.append(Conv2d(out_channels, kernel=3, padding=1))
        layers.append(Sigmoid())
    layers.append(MaxPool2d(2, stride=2))
    net = Sequential(*layers)
    def forward(X: f32[b, c, h, w]):
        return net(X)

model VGGNet(num_classes: int = 4):
    blocks = []
    for i in range(2):
        blocks.append(VGGBlock(1, 4 * (i + 1)))
    net = Sequential(*blocks, Flatten(), Linear(num_classes))
    def forward(X: f32[b, 3, 8, 8]):
        return net(X)

model Stack(num_blocks: int = 3, width: int = 6):
    blocks = []
    for i in range(num_blocks):
        blocks.append(Linear(width))
        blocks.append(Tanh())
    head = Linear(2)
    def forward(X: f32[b, 5]):
        for blk in blocks:
            X = blk(X)
        return head(X)

model ConvBlock(num_channels: int = 4):
    net = Sequential(BatchNorm2d(), ReLU(), Conv2d(num_channels, kernel=3, padding=1))
    def forward(X: f32[b, c, h, w]):
        return net(X)

model DenseBlock(num_convs: int = 2, num_channels: int = 3):
    blocks = []
    for i in range(num_convs):
        blocks.append(ConvBlock(num_channels))
    def forward(X: f32[b, 3, 5, 5]):
        for blk in blocks:
            Y = blk(X)
            X = concat((X, Y), axis=1)
        return X

model Residual(num_channels: int = 3):
    conv1 = Conv2d(num_channels, kernel=3, padding=1)
    conv2 = Conv2d(num_channels, kernel=3, padding=1)
    def forward(X: f32[b, num_channels, h, w]):
        Y = relu(conv1(X))
        return relu(conv2(Y) + X)

model ResStage(num_residuals: int = 2):
    head = Sequential(Residual(3), Residual(3))
    stage = []
    for i in range(num_residuals):
        stage.append(Residual(3))
    tail = Sequential(*stage, Flatten(), Linear(5))
    def forward(X: f32[b, 3, 4, 4]):
        return tail(head(X))

model Widening(depth: int = 3):
    layers = []
    for i in range(depth):
        layers.append(Linear(4 * (i + 1)))
        layers.append(ReLU())
    for i in range(2):
        for j in range(i + 1):
            layers.append(Linear(3))
    net = Sequential(Flatten(), *layers, Linear(2))
    def forward(X: f32[b, 2, 3]):
        return net(X)

model Normed(n: int = 2):
    blocks = [Linear(6, bias=False), BatchNorm1d(), ReLU()]
    for i in range(n):
        blocks.append(Sequential(Linear(6, bias=False), BatchNorm1d(), Sigmoid()))
    net = Sequential([Linear(3), ReLU()])
    def forward(X: f32[b, 5]):
        for blk in blocks:
            X = blk(X)
        return net(X)

model InitLoop(n: int = 2):
    layers = []
    for i in range(n):
        layers.append(Linear(5, init=normal(0.0, 0.3), bias_init=constant(0.1)))
        layers.append(Tanh())
    net = Sequential(*layers, Linear(2, init=uniform(-0.5, 0.5)))
    def forward(X: f32[b, 5]):
        return net(X)
```
"""
RECURRENT = """
# Stacked and bidirectional recurrent layers

```d2l
model DeepGRU(num_hiddens: int = 4, num_layers: int = 2):
    rnn = GRU(3, num_hiddens, num_layers=num_layers)
    head = Linear(2)
    def forward(X: f32[b, t, 3]):
        return head(rnn(X))

model BiLSTM(num_hiddens: int = 4):
    rnn = LSTM(3, num_hiddens, bidirectional=True)
    head = Linear(2)
    def forward(X: f32[b, t, 3]):
        return head(rnn(X))

model DeepBiRNN(num_hiddens: int = 4):
    rnn = RNN(3, num_hiddens, num_layers=2, bidirectional=True)
    def forward(X: f32[b, t, 3]):
        return rnn(X)

model DeepBiGRU(num_hiddens: int = 3):
    rnn = GRU(3, num_hiddens, num_layers=3, bidirectional=True)
    head = Linear(2)
    def forward(X: f32[b, t, 3]):
        return head(rnn(X))
```
"""
TUPLE_LOOP = """
# A loop over a tuple hyperparameter

```d2l
model TupleVGG(arch: tuple = ((1, 3), (2, 5)), num_classes: int = 4):
    blocks = []
    for num_convs, out_channels in arch:
        for i in range(num_convs):
            blocks.append(Conv2d(out_channels, kernel=3, padding=1))
            blocks.append(ReLU())
        blocks.append(MaxPool2d(2, stride=2))
    net = Sequential(*blocks, Flatten(), Linear(num_classes))
    def forward(X: f32[b, 1, 8, 8]):
        return net(X)

model OtherArch():
    vgg = TupleVGG(((2, 4), (1, 2)), 3)
    def forward(X: f32[b, 1, 8, 8]):
        return vgg(X)

model TupleWidths(widths: tuple = (4, 6, 3)):
    layers = []
    for width in widths:
        layers.append(Linear(width))
        layers.append(Tanh())
    net = Sequential(*layers, Linear(2))
    def forward(X: f32[b, 5]):
        return net(X)
```
"""
NAMES = {"VGGBlock", "VGGNet", "Stack", "ConvBlock", "DenseBlock", "Residual", "ResStage", "Widening", "Normed", "InitLoop"}


@pytest.fixture(scope="module")
def session():
    with Session([get_backend(n) for n in TARGETS], call_timeout=300, cache_dir=SHARED_CACHE) as s:
        s.start()
        yield s


def _results(session, path: Path, targets):
    cases, _ = model_cases([path])
    assert {c.name for c in cases} == NAMES
    return run_model_cases(session, cases, {n: get_backend(n) for n in targets})


def test_layer_lists_agree_on_every_target(session, tmp_path):
    chapter = tmp_path / "lists.md"
    chapter.write_text(LISTS, encoding="utf-8")
    results = _results(session, chapter, TARGETS)
    bad = [f"{r.case} {r.check} | {r.target} | {r.status} {r.max_abs:.2e} {r.detail}" for r in results if r.status in ("FAIL", "error", "skip")]
    assert not bad, "\n".join(bad)
    compared = {(r.case, r.target) for r in results if r.status == "pass" and r.detail != "reference"}
    others = (set(TARGETS) - {"pytorch"}) & set(session.available())
    assert others and compared == {(n, t) for n in NAMES for t in others}


def test_a_dropped_loop_pass_is_caught(session, tmp_path, monkeypatch):
    """Planted: JAX builds each layer list with one pass of each loop fewer (`for i in list(range(n))[1:]`). Every
    model whose loops make parameters must then fail on JAX, and only there."""
    if "jax" not in session.available():
        pytest.skip("JAX is not installed")
    from d2lc.emit.modeldefs import ModelEmission
    from d2lc_targets.jax.emitter import JaxEmitter
    original = ModelEmission.list_statements

    class DropOne(cst.CSTTransformer):
        def leave_For(self, node, updated):
            rest = cst.Subscript(cst.Call(cst.Name("list"), [cst.Arg(updated.iter)]),
                                 [cst.SubscriptElement(cst.Slice(lower=cst.Integer("1"), upper=None))])
            return updated.with_changes(iter=rest)

    def planted(self, *args, **kwargs):
        return [s.visit(DropOne()) for s in original(self, *args, **kwargs)]

    monkeypatch.setattr(JaxEmitter, "list_statements", planted, raising=False)
    chapter = tmp_path / "lists.md"
    chapter.write_text(LISTS, encoding="utf-8")
    by = {(r.case, r.target): r.status for r in _results(session, chapter, ["pytorch", "jax"]) if r.check == "forward"}
    for name in ("VGGBlock", "VGGNet", "Stack", "DenseBlock", "ResStage", "Widening", "Normed", "InitLoop"):
        assert by[(name, "jax")] in ("FAIL", "error"), name
    assert by[("ConvBlock", "jax")] == "pass" and by[("Residual", "jax")] == "pass"


def test_stacked_and_bidirectional_recurrent_layers_agree(session, tmp_path, monkeypatch):
    """num_layers= and bidirectional=: forward and gradients agree everywhere (optimizer steps too, except where a
    framework keeps one bias for two: Keras RNN/LSTM, flax). Planted: gluon's LSTM row without `bidirectional` and
    Paddle's GRU row without `num_layers` must fail exactly those models there."""
    from d2lc.emit.model_code import LayerRow
    from d2lc_targets.mxnet import models as mx_models
    from d2lc_targets.paddle import models as paddle_models
    chapter = tmp_path / "recurrent.md"
    chapter.write_text(RECURRENT, encoding="utf-8")
    cases, _ = model_cases([chapter])
    results = run_model_cases(session, cases, {n: get_backend(n) for n in TARGETS})
    by = {(r.case, r.check, r.target): r for r in results}
    for target in set(TARGETS) & set(session.available()):
        for case in ("DeepGRU", "BiLSTM", "DeepBiRNN", "DeepBiGRU"):
            for check in ("forward", "grads"):
                assert by[(case, check, target)].status == "pass", (case, check, target, by[(case, check, target)].detail)
            for check in ("sgd", "adam"):
                r = by[(case, check, target)]
                assert r.status == "pass" or r.status == "skip" and "one bias" in r.detail, (case, check, target, r.detail)
    planted = [n for n in ("pytorch", "mxnet", "paddle") if n in session.available()]
    if planted != ["pytorch", "mxnet", "paddle"]:
        pytest.skip("MXNet or Paddle is not installed")
    monkeypatch.setitem(mx_models.LAYER_ROWS, "LSTM", LayerRow("rnn.LSTM", ("num_hiddens",), {"layout": "='NTC'", "input_size": "num_inputs"}))
    monkeypatch.setitem(paddle_models.LAYER_ROWS, "GRU", LayerRow("nn.GRU", ("num_inputs", "num_hiddens")))
    wrong = {(r.case, r.target): r.status for r in run_model_cases(session, cases, {n: get_backend(n) for n in planted})
             if r.check == "forward"}
    assert wrong[("BiLSTM", "mxnet")] in ("FAIL", "error") and wrong[("DeepBiGRU", "paddle")] in ("FAIL", "error")
    assert wrong[("DeepGRU", "paddle")] in ("FAIL", "error")
    assert wrong[("DeepGRU", "mxnet")] == "pass" and wrong[("BiLSTM", "paddle")] == "pass"


def test_tuple_hyperparameter_loop_agrees_on_every_target(session, tmp_path):
    """`for num_convs, out_channels in arch:` over a tuple hyperparameter, with its default and with another value
    of the same structure, and `for width in widths:` over a tuple of ints: every target builds the same layers
    (Paddle's loop-dependent channels through Lazy)."""
    chapter = tmp_path / "tuple_loop.md"
    chapter.write_text(TUPLE_LOOP, encoding="utf-8")
    cases, _ = model_cases([chapter])
    assert {c.name for c in cases} == {"TupleVGG", "OtherArch", "TupleWidths"}
    results = run_model_cases(session, cases, {n: get_backend(n) for n in TARGETS})
    bad = [f"{r.case} {r.check} | {r.target} | {r.status} {r.max_abs:.2e} {r.detail}" for r in results if r.status in ("FAIL", "error", "skip")]
    assert not bad, "\n".join(bad)
    compared = {(r.case, r.target) for r in results if r.status == "pass" and r.detail != "reference"}
    others = (set(TARGETS) - {"pytorch"}) & set(session.available())
    assert others and compared == {(n, t) for n in ("TupleVGG", "OtherArch", "TupleWidths") for t in others}


NESTED_PARAMS = """
# Models with their own parameters in a list of another model

```d2l
model Step(num_inputs: int = 3, num_hiddens: int = 4):
    W_x = param((num_inputs, num_hiddens), init=normal(0.0, 0.5))
    W_h = param((num_hiddens, num_hiddens), init=normal(0.0, 0.5))
    b = param((num_hiddens,), init=zeros)
    def forward(X: f32[n, t, num_inputs]):
        H = zeros((X.shape[0], num_hiddens))
        states = []
        for i in range(X.shape[1]):
            H = tanh(X[:, i] @ W_x + H @ W_h + b)
            states.append(H)
        return stack(states, axis=1)

model Steps(num_layers: int = 2):
    layers = [Step(3, 4)]
    for i in range(num_layers - 1):
        layers.append(Step(4, 4))
    W_o = param((4, 2), init=normal(0.0, 0.5))
    def forward(X: f32[n, t, 3]):
        for layer in layers:
            X = layer(X)
        return X @ W_o
```
"""


def test_nested_models_own_parameters_agree(session, tmp_path):
    """A model's own param(...) tensors inside another model's list (the book's stacked RNN from scratch): flax
    sorts parameter names, so the harness reads each nested model's declaration order (W_x before W_h; a flat
    order of the outer model's names alone loaded W_x's (3, 4) into W_h's (4, 4) on JAX)."""
    chapter = tmp_path / "nested.md"
    chapter.write_text(NESTED_PARAMS, encoding="utf-8")
    cases, _ = model_cases([chapter])
    assert {c.name for c in cases} == {"Step", "Steps"}
    targets = [n for n in TARGETS if n in ("pytorch", "jax")]
    results = run_model_cases(session, cases, {n: get_backend(n) for n in targets})
    bad = [f"{r.case} {r.check} | {r.target} | {r.status} {r.detail}" for r in results if r.status != "pass"]
    assert not bad, "\n".join(bad)
    if "jax" in session.available():
        assert {(r.case, r.target) for r in results if r.detail != "reference"} >= {("Steps", "jax")}


SCALAR_OUTPUT = """
# A layer applied twice, one number out

```d2l
model Twice():
    linear = Linear(5)
    def forward(X: f32[n, 5]):
        return linear(relu(linear(X))).sum()
```
"""


def test_a_model_giving_one_number_per_batch_is_checked_and_its_training_run_skipped(session, tmp_path):
    """A model whose forward reduces the batch to one number (the book's FixedHiddenMLP returns `X.sum()`) made the
    harness raise `len() of unsized object` for every target; its checks run, and the training run over shuffled
    examples says why it does not apply."""
    chapter = tmp_path / "scalar.md"
    chapter.write_text(SCALAR_OUTPUT, encoding="utf-8")
    cases, _ = model_cases([chapter])
    targets = [n for n in TARGETS if n in ("pytorch", "tensorflow")]
    results = run_model_cases(session, cases, {n: get_backend(n) for n in targets})
    by = {(r.check, r.target): r for r in results}
    for target in set(targets) & set(session.available()):
        assert by[("forward", target)].status == "pass" and by[("grads", target)].status == "pass"
        assert by[("train", target)].status == "skip" and "one number for the whole batch" in by[("train", target)].detail


DECLARATION_ORDER = """
# Members called in another order than declared, and a tied layer in a Sequential

```d2l
model Swapped():
    second = Linear(3)
    first = Linear(5)
    def forward(X: f32[b, 20]):
        return second(relu(first(X)))

model Tied():
    shared = Linear(8)
    net = Sequential(Linear(8), ReLU(), shared, ReLU(), shared, ReLU(), Linear(1))
    def forward(X: f32[b, 20]):
        return net(X)
```
"""


def test_parameters_are_matched_in_declaration_order_not_call_order(session, tmp_path):
    """The canonical order is PyTorch's `modules()`: members as declared, depth first. JAX's glue read flax's modules
    in the order forward first calls them, so a member declared first and called later, or a tied layer declared
    before the Sequential that calls it, loaded one layer's parameters into another (a reshape error on JAX)."""
    chapter = tmp_path / "order.md"
    chapter.write_text(DECLARATION_ORDER, encoding="utf-8")
    cases, _ = model_cases([chapter])
    targets = [n for n in TARGETS if n in ("pytorch", "jax", "tensorflow")]
    results = run_model_cases(session, cases, {n: get_backend(n) for n in targets})
    bad = [f"{r.case} {r.check} | {r.target} | {r.status} {r.detail}" for r in results if r.status != "pass"]
    assert not bad, "\n".join(bad)
    assert {(r.case, r.target) for r in results if r.detail != "reference"} >= \
        {(c, t) for c in ("Swapped", "Tied") for t in set(targets) & set(session.available()) - {"pytorch"}}
