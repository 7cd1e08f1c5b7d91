"""A parameter's gradient (docs/dsl.md, "Gradients of parameters"): `grad(loss, net.out.weight)` with the loss computed
from the model's calls at the top level. The error messages, compared whole; the same gradients on every target in
the canonical layout ((out, in) dense weights, OIHW kernels), checked against each other and, for a lone Linear,
against the closed form (a planted bug, a Keras, flax or Paddle gradient read untransposed, is caught)."""
from __future__ import annotations

import re

import pytest

from test_errors import assert_error
from test_params import CALLED, M  # the model the parameter tests read and write
from test_soundness import run_everywhere

LOSS = "loss = ((y - 1.0) ** 2).mean()\n"

CASES = [
    ("non_scalar_loss", CALLED + "g = grad(y, net.out.weight)\n", '''\
ch.md:11:10: error: `grad` needs a scalar, but this value has shape [2, 2]
    g = grad(y, net.out.weight)
             ^
  expected: a rank-0 tensor (one number)
  hint: reduce it first, e.g. `grad(y.sum(), x)`
'''),
    ("int_loss", CALLED + "g = grad(y.argmax(), net.out.weight)\n", '''\
ch.md:11:12: error: `grad` of an int64 value
    g = grad(y.argmax(), net.out.weight)
               ^^^^^^
  expected: a float scalar
  hint: compute the value from float tensors
'''),
    ("not_from_the_model", CALLED + "X = ones((2, 4))\nloss = (X ** 2).sum()\ng = grad(loss, net.out.weight)\n", '''\
ch.md:13:10: error: this value is not computed from a call of `net`, so `net`'s parameters have no gradient in it
    g = grad(loss, net.out.weight)
             ^^^^
  expected: a loss computed from net(X) at the top level, before this line
  hint: compute the loss from the model's output, e.g. `loss = ((net(X) - y) ** 2).mean()`
'''),
    ("from_another_model", CALLED + "other = MLP()\nz = other(ones((2, 4)))\nloss = z.sum()\ng = grad(loss, net.out.weight)\n", '''\
ch.md:14:10: error: this value is not computed from a call of `net`, so `net`'s parameters have no gradient in it
    g = grad(loss, net.out.weight)
             ^^^^
  expected: a loss computed from net(X) at the top level, before this line
  hint: compute the loss from the model's output, e.g. `loss = ((net(X) - y) ** 2).mean()`
'''),
    ("no_such_parameter", CALLED + LOSS + "g = grad(loss, net.out.kernel)\n", '''\
ch.md:12:24: error: `Linear` has no tensor `kernel`
    g = grad(loss, net.out.kernel)
                           ^^^^^^
  expected: one of: .weight, .bias
  hint: read a layer's tensors by name (`net.out.weight`, `net.net[0].bias`); count them with `num_params(net)`
'''),
    ("running_statistic", "model B():\n    body = Sequential(Linear(3), BatchNorm1d())\n    def forward(X: f32[n, 4]):\n"
     "        return body(X)\nnet = B()\ny = net(ones((2, 4)))\ng = grad(y.sum(), net.body[1].running_mean)\n", '''\
ch.md:10:31: error: `running_mean` is a running statistic, not a trained parameter
    g = grad(y.sum(), net.body[1].running_mean)
                                  ^^^^^^^^^^^^
  expected: a weight or a bias (net.out.weight)
  hint: batch normalisation updates its statistics while training, without gradients
'''),
    ("in_a_model_body", "model Lin():\n    out = Linear(2)\n    def forward(X: f32[n, 4]):\n"
     "        return out(X) * grad(out(X).sum(), out.weight).sum()\n", '''\
ch.md:7:44: error: the layers of `out` are not known here
            return out(X) * grad(out(X).sum(), out.weight).sum()
                                               ^^^
  expected: a model instance or a layer assigned at the top level of the chapter (net = MLP())
  hint: assign the model to a name, call it, then read its parameters
'''),
    ("in_a_function", CALLED + "def f(x: f32[n, 4]) -> f32[2, 2]:\n    return grad(net(x).sum(), net.out.weight)\n", '''\
ch.md:12:31: error: parameters are read at the top level of a chapter
        return grad(net(x).sum(), net.out.weight)
                                  ^^^
  expected: print(net.out.weight) outside `def` and `model`
  hint: inside a model, use the member itself; pass a tensor to a function
'''),
    ("in_a_loop", CALLED + LOSS + "for i in range(2):\n    print(grad(loss, net.out.bias))\n", '''\
ch.md:13:11: error: the gradient of a parameter is taken at the top level, outside loops and branches
        print(grad(loss, net.out.bias))
              ^^^^
  expected: grad(loss, net.out.weight) at the top level, outside `for` and `if`
  hint: compute the loss and its gradient once, after the model's call
'''),
    ("written_in_between", CALLED + LOSS + "net.out.bias = zeros((2,))\ng = grad(loss, net.out.weight)\n", '''\
ch.md:13:5: error: cannot take this gradient: `net`'s parameters changed after the loss was computed (line 12)
    g = grad(loss, net.out.weight)
        ^^^^
  expected: `net`'s parameters unchanged between the loss and its gradient
  hint: compute the loss again after the change, then take its gradient
'''),
    ("input_changed", "X = ones((2, 4))\n" + M + "y = net(X)\n" + LOSS + "X = zeros((2, 4))\ng = grad(loss, net.out.weight)\n", '''\
ch.md:14:5: error: cannot differentiate here: `X` changed after it was used to compute the value
    g = grad(loss, net.out.weight)
        ^^^^
  expected: `X` to keep its value until `grad`
  hint: take the gradient before reassigning `X`, or use a new name
'''),
    ("loss_reads_parameters", CALLED + "loss = y.sum() + (net.out.weight ** 2).sum()\ng = grad(loss, net.out.weight)\n", '''\
ch.md:11:27: error: the loss reads `net`'s parameters directly; its gradient is taken through `net`'s calls only
    loss = y.sum() + (net.out.weight ** 2).sum()
                              ^^^^^^
  expected: a loss computed from net(X)
  hint: a weight penalty's gradient is added by hand, e.g. `grad(loss, net.out.weight) + 2 * lam * net.out.weight`
'''),
    ("random_loss", CALLED + "loss = (net(ones((2, 4))) + normal((2, 2))).sum()\ng = grad(loss, net.out.weight)\n", '''\
ch.md:11:29: error: the loss of a parameter's gradient draws random numbers
    loss = (net(ones((2, 4))) + normal((2, 2))).sum()
                                ^^^^^^
  expected: a loss computed from the model's call on data drawn before it
  hint: draw the data first and assign it to a name; the gradient computes the loss again
'''),
    ("grad_of_a_function", CALLED + "def f(w: f32[2, 3]) -> f32[]:\n    return (w ** 2).sum()\ng = grad(f)(net.out.weight)\n", '''\
ch.md:13:21: error: `grad(f)` differentiates with respect to a tensor argument, not a parameter
    g = grad(f)(net.out.weight)
                        ^^^^^^
  expected: grad(loss, net.out.weight) with loss computed from net(X)
  hint: compute the loss from the model's call, then take `grad(loss, net.out.weight)`
'''),
    ("before_called", M + "g = grad(net(ones((2, 4))).sum(), net.out.weight)\n", '''\
ch.md:10:43: error: `net` has no parameters yet: it has not been called on data
    g = grad(net(ones((2, 4))).sum(), net.out.weight)
                                              ^^^^^^
  expected: net(X) or train(net, ...) at the top level, before this line
  hint: frameworks make a layer's parameters when it first sees an input (its shapes); call the model once outside loops and branches
'''),
]


@pytest.mark.parametrize("src, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_param_grad_error(src, expected):
    assert_error(src, expected)


# The weights are written first, so every framework computes the same loss whatever its initialisers; each gradient is
# printed as a sum weighted by position, so a gradient in another layout (a Keras or flax kernel (in, out) or HWIO, a
# Paddle Linear weight [in, out]) prints another number. `lin`'s gradients are also checked against the closed form.
AGREE = '''\
model Net():
    body = Sequential(Conv2d(1, kernel=2), ReLU(), Flatten())
    out = Linear(4)
    scale = param((4,), init=constant(1.0))
    def forward(X: f32[b, 1, 3, 3]):
        return out(body(X)) * scale
X = arange(18.0).reshape(2, 1, 3, 3) / 10
net = Net()
Y = net(X)
net.body[0].weight = arange(4.0).reshape(1, 1, 2, 2) / 4 - 0.3
net.body[0].bias = full((1,), 0.1)
net.out.weight = arange(16.0).reshape(4, 4) / 10 - 0.7
net.out.bias = arange(4.0) / 10
net.scale = arange(4.0) / 4 + 0.5
T = arange(8.0).reshape(2, 4) / 5
Y = net(X)
loss = ((Y - T) ** 2).sum()
GW = grad(loss, net.out.weight)
GK = grad(loss, net.body[0].weight)
Gb = grad(loss, net.out.bias)
GS = grad(loss, net.scale)
print(GW.shape[0], GW.shape[1], GK.shape[0], GK.shape[1], GK.shape[2], GK.shape[3])
print(float((GW * arange(16.0).reshape(4, 4)).sum()), float((GK * arange(4.0).reshape(1, 1, 2, 2)).sum()))
print(float((Gb * arange(4.0)).sum()), float((GS * arange(4.0)).sum()), float(grad(Y.sum(), net.body[0].bias)[0]))
lin = Linear(3)
A = arange(8.0).reshape(4, 2) / 4
Z = lin(A)
lin.weight = arange(6.0).reshape(3, 2) / 3 - 0.5
lin.bias = zeros((3,))
T2 = ones((4, 3))
R = lin(A) - T2
GL = grad((R ** 2).sum(), lin.weight)
print(float(abs(GL - 2 * (R.T @ A)).max()) < 1e-5, float((GL * arange(6.0).reshape(3, 2)).sum()))
lin.bias = ones((3,))
R2 = lin(A) - T2
l2 = (R2 ** 2).mean()
gb = grad(l2, lin.bias)
A2 = A * 1.0
ga = grad((R2 * A2.sum()).sum(), A2)
gw = grad(l2, lin.weight)
print(float(abs(gb - 2 * R2.sum(axis=0) / 12).max()) < 1e-5, float(abs(gw - 2 * (R2.T @ A) / 12).max()) < 1e-5)
print(float((gw * arange(6.0).reshape(3, 2)).sum()), float(ga.sum()))
g3 = grad((lin(A) ** 2).sum(), lin.bias)
print(float(g3.sum()), float(abs(gb - 2 * R2.sum(axis=0) / 12).max()) < 1e-5)
'''
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?|True|False")


def _numbers(out: str) -> list:
    return [w if w in ("True", "False") else float(w) for w in NUMBER.findall(out)]


def _disagree(printed: dict[str, str]) -> set[str]:
    """The targets whose printed numbers differ from PyTorch's (relative 1e-4) or whose checks print False."""
    want = _numbers(printed["pytorch"])
    assert "False" not in want and len(want) == 19, printed["pytorch"]
    return {t for t, out in printed.items() if len(got := _numbers(out)) != len(want) or any(
        (g != w) if isinstance(w, str) else not isinstance(g, float) or abs(g - w) > 1e-4 * max(1.0, abs(w))
        for g, w in zip(got, want))}


def test_parameter_gradients_agree_on_every_target(tmp_path):
    printed = run_everywhere(AGREE, tmp_path)
    assert not _disagree(printed), printed


def test_a_gradient_read_untransposed_is_caught(tmp_path, monkeypatch):
    """A Keras or flax kernel's gradient is (in, out) or HWIO, a Paddle Linear weight's [in, out]: read as it is, the
    (square) dense and the kernel gradients keep their sizes and print other numbers (`lin`'s, (2, 3) for (3, 2), stops
    the notebook), on those three targets only."""
    from helpers import run_on_every_target
    from d2lc.emit.rules import call
    from d2lc_targets.jax.params import JaxParams
    from d2lc_targets.paddle.params import PaddleParams
    from d2lc_targets.tensorflow.params import TensorFlowParams
    monkeypatch.setattr(TensorFlowParams, "param_value", lambda self, code, layer, name: call("tf.convert_to_tensor", code))
    monkeypatch.setattr(JaxParams, "param_ref", lambda self, p, code=None: self._leaf_of(code, p) if code is not None
                        else self.param_object(p))
    monkeypatch.setattr(PaddleParams, "param_value", lambda self, code, layer, name: code)
    runs = run_on_every_target(AGREE, tmp_path, cwd=tmp_path)
    assert not runs["pytorch"].error and not runs["mxnet"].error
    printed = {t: run.stdout + ("\nFalse" if run.error else "") for t, run in runs.items()}
    assert _disagree(printed) == {"tensorflow", "jax", "paddle"}


# An embedding's gradient (a Keras `IndexedSlices`, converted) and a model with dropout, whose gradient is the one of
# its forward at inference, as the chapter computed it (gluon records with `train_mode=False`).
EMBEDDED = '''\
model Emb():
    emb = Embedding(5, 3)
    body = Sequential(Linear(4), Dropout(0.5), ReLU())
    out = Linear(1)
    def forward(I: i64[n]):
        return out(body(emb(I)))
I = tensor([0, 2, 2, 4])
net = Emb()
Y = net(I)
net.emb.weight = arange(15.0).reshape(5, 3) / 10 - 0.5
net.body[0].weight = arange(12.0).reshape(4, 3) / 10 - 0.4
net.out.weight = ones((1, 4))
print(float((grad(net(I).sum(), net.emb.weight) * arange(15.0).reshape(5, 3)).sum()))
print(float((grad(net(I).sum(), net.body[0].weight) * arange(12.0).reshape(4, 3)).sum()))
'''


def test_embedding_and_dropout_gradients_agree(tmp_path):
    printed = run_everywhere(EMBEDDED, tmp_path)
    want = [float(x) for x in printed["pytorch"].split()]
    assert len(want) == 2 and all(abs(w) > 1 for w in want), printed
    wrong = {t: out for t, out in printed.items() if [round(float(x), 3) for x in out.split()] != [round(w, 3) for w in want]}
    assert not wrong, printed


def test_batch_norm_gradient_is_an_mxnet_compile_error(tmp_path):
    """gluon's BatchNorm differentiates with the batch's statistics even when not training, so a gradient through
    it would differ: a compile error naming mxnet and the line, while the other targets compile the chapter."""
    from helpers import chapter
    from d2lc.build.compile import build
    from d2lc.emit.backend import get_backend, target_names
    src = tmp_path / "ch.md"
    src.write_text(chapter(EMBEDDED.replace("Linear(4), Dropout(0.5)", "Linear(4), BatchNorm1d(), Dropout(0.5)")), encoding="utf-8")
    for target in target_names():
        result = build([src], [get_backend(target)], tmp_path / target, jobs=1)
        messages = [(d.loc.line, d.loc.col, d.message) for ds in result.errors.values() for d in ds]
        if target == "mxnet":
            assert messages == [(16, 14, "the gradient of a parameter of a model with batch normalisation is not supported "
                                         "by target `mxnet`")]
        else:
            assert not messages, (target, messages)
