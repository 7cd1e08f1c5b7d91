"""Parameter writes and model printouts (docs/dsl.md, "Writing parameters"): the error messages, compared whole, and
the same writes made on every target in the canonical layout, then checked through what each framework's own layers
compute with them (a planted bug, a part of a kernel written without transposing the value, is caught on the three
targets that transpose)."""
from __future__ import annotations

import pytest

from test_errors import assert_error
from test_params import CALLED, M  # the model both files read and write
from test_soundness import run_everywhere

CASES = [
    ("wrong_shape", CALLED + "net.out.weight = ones((3, 2))\n", '''\
ch.md:11:18: error: a value of shape [3, 2] cannot replace a parameter of shape [2, 3]
    net.out.weight = ones((3, 2))
                     ^^^^
  expected: a tensor of shape [2, 3]
  hint: parameters keep their shape; a Linear weight is (out_features, in_features)
'''),
    ("number_for_whole", CALLED + "net.out.bias = 1.0\n", '''\
ch.md:11:16: error: a parameter is written with a tensor of its shape, got a number
    net.out.bias = 1.0
                   ^^^
  expected: a tensor of shape [2]
  hint: fill every element through `[:]` (`net.out.bias[:] = 0.0`), or write `full_like(...)` of the parameter
'''),
    ("int_tensor", CALLED + "net.out.bias = arange(2)\n", '''\
ch.md:11:16: error: a parameter holds float32 numbers, got an int64[2]
    net.out.bias = arange(2)
                   ^^^^^^
  expected: a float32 tensor
  hint: convert it first: `.astype(float32)`
'''),
    ("part_shape", CALLED + "net.out.weight[0, :] = ones((4,))\n", '''\
ch.md:11:24: error: a value of shape [4] does not fit the part of shape [3]
    net.out.weight[0, :] = ones((4,))
                           ^^^^
  expected: a number, or a tensor of shape [3]
  hint: reshape the value to the part's shape; a parameter's part is not broadcast into
'''),
    ("part_with_step", CALLED + "net.out.weight[::2] = 1.0\n", '''\
ch.md:11:1: error: a parameter is written through ints and slices without steps
    net.out.weight[::2] = 1.0
    ^^^^^^^^^^^^^^^^^^^
  expected: w[0, :] = ..., w[1:3] = ...
  hint: each framework lays some parameters out in another order; name every axis
'''),
    ("sublayer_target", CALLED + "net.out = ones((2,))\n", '''\
ch.md:11:5: error: cannot assign to this expression
    net.out = ones((2,))
        ^^^
  expected: a name, an indexed name (X[i] = ...) or a parameter (net.out.weight = ...)
  hint: assign the value to a name, e.g. `y = ...`
'''),
    ("before_called", M + "net.out.bias = zeros((2,))\n", '''\
ch.md:10:9: error: `net` has no parameters yet: it has not been called on data
    net.out.bias = zeros((2,))
            ^^^^
  expected: net(X) or train(net, ...) at the top level, before this line
  hint: frameworks make a layer's parameters when it first sees an input (its shapes); call the model once outside loops and branches
'''),
    ("print_before_called", M + "print(net)\n", '''\
ch.md:10:1: error: `net` has no parameters yet: it has not been called on data
    print(net)
    ^^^^^
  expected: net(X) or train(net, ...) at the top level, before this line
  hint: frameworks make a layer's parameters when it first sees an input (its shapes); call the model once outside loops and branches
'''),
    ("print_in_def", CALLED + "def f(x: f32[n]) -> f32[n]:\n    print(net)\n    return x\n", '''\
ch.md:12:5: error: a model is printed at the top level of a chapter
        print(net)
        ^^^^^
  expected: print(net) outside `def` and `model`
  hint: print its parameters' shapes instead
'''),
]


@pytest.mark.parametrize("src, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_param_write_error(src, expected):
    assert_error(src, expected)


# Every weight below is written (whole, then parts of it), so each framework's layers compute the same numbers from
# them whatever their initialisers: a Keras or flax kernel is (in, out) or HWIO, a Paddle Linear weight [in, out], so
# a write in the wrong order changes what the layer computes. A layer used twice (`shared`) is one set of parameters.
AGREE = '''\
model Tied():
    shared = Linear(3)
    body = Sequential(Conv2d(1, kernel=2), BatchNorm2d(), Flatten(), Linear(3), ReLU(), shared, ReLU(), shared)
    scale = param((3,), init=constant(1.0))
    def forward(X: f32[b, 2, 3, 3]):
        return body(X) * scale
X = arange(36.0).reshape(2, 2, 3, 3) / 10
net = Tied()
Y = net(X)
net.body[0].weight = arange(8.0).reshape(1, 2, 2, 2) / 8 - 0.25
net.body[0].bias[0] = 0.5
net.body[3].weight = arange(12.0).reshape(3, 4) / 10 - 0.5
net.body[3].weight[1, 2:] = 0.25
net.body[3].bias = zeros((3,))
net.body[3].bias -= 0.5
net.body[3].bias += 0.5
net.body[5].weight = ones((3, 3)) * 0.5
net.body[5].weight[0, 0] = 2
net.body[5].weight *= 4
net.body[5].weight /= 4
net.body[7].weight[1:, 1:] = arange(4.0).reshape(2, 2) / 4
net.shared.bias[:] = 0.0
net.scale += 1
net.body[1].running_var[0] = 4.0
print(float(net.body[5].weight[0, 0]), float(net.body[7].weight[2, 1]), float(net.shared.weight[1, 2]))
print(float(net.body[1].running_var.sum()), float(net.scale.sum()))
Y = net(X)
print(float(abs(Y[0, 0] - 9.455614)) < 1e-4, float(abs(Y[1, 2] - 10.9406)) < 1e-3, float(abs(Y.sum() - 52.27494)) < 1e-3)
conv = Conv2d(3, kernel=2)
Z = conv(X)
conv.weight = arange(24.0).reshape(3, 2, 2, 2) / 10
conv.weight[1, 0, :, 1] = full((2,), -1.0)
conv.weight[2, :, 0, :] = arange(4.0).reshape(2, 2)
conv.bias = zeros((3,))
Z = conv(X)
print(float(abs(Z[0, 0, 0, 0] - 2.68)) < 1e-4, float(abs(Z[1, 1, 1, 0] - 16.73)) < 1e-4, float(abs(Z[0, 2, 0, 1] - 13.25)) < 1e-4)
seq = Sequential(Linear(2), ReLU(), Linear(1))
S = seq(X[:, 0, 0])
seq[0].weight = arange(6.0).reshape(2, 3) / 10
seq[0].weight[1, :2] = full((2,), 1.0)
seq[0].bias = ones((2,))
seq[2].weight[0, :] = ones((2,))
seq[-1].bias[0] = -1.0
S = seq(X[:, 0, 0])
print(float(abs(S[0, 0] - 1.25)) < 1e-5, float(abs(S[1, 0] - 6.29)) < 1e-5)
print(net)
'''
WANT = "2.0 0.5 0.25\n4.0 6.0\nTrue True True\nTrue True True\nTrue True\n"
PRINTOUT = {"pytorch": "Linear(in_features=4, out_features=3", "tensorflow": "Trainable params: 41", "jax": "'kernel': (4, 3)",
            "mxnet": "Dense(4 -> 3, linear)", "paddle": "Linear(in_features=4, out_features=3"}


def _check(printed: dict[str, str]) -> None:
    wrong = {t: out[:len(WANT)] for t, out in printed.items() if not out.startswith(WANT)}
    assert not wrong, f"expected every target to print\n{WANT}got: {wrong}"
    missing = {t: out[len(WANT):] for t, out in printed.items() if PRINTOUT[t] not in out[len(WANT):]}
    assert not missing, f"each framework's printout of the model: {missing}"


def test_parameter_writes_agree_on_every_target(tmp_path):
    _check(run_everywhere(AGREE, tmp_path))


def test_a_part_written_untransposed_is_caught(tmp_path, monkeypatch):
    """The 2x2 parts written (`conv.weight[2, :, 0, :]`, `net.body[7].weight[1:, 1:]`) lie the other way round in a
    Keras or flax kernel (and a Paddle Linear weight): a write that forgets to transpose the value keeps every shape and
    changes what those three frameworks compute, and only those."""
    import d2lc.emit.params as params
    right = params.native_write
    monkeypatch.setattr(params, "native_write", lambda perm, index, rank: right(perm, index, rank) if index is None
                        else (right(perm, index, rank)[0], None))
    printed = run_everywhere(AGREE, tmp_path)
    assert {t for t, out in printed.items() if not out.startswith(WANT)} == {"tensorflow", "jax", "paddle"}


def test_a_model_printout_is_never_compared():
    """`print(net)` is each framework's own text: a print site marked as a printout, which Keras (`net.summary()`, no
    print call) leaves out, so the chapter's other prints still match their sites on every target."""
    from helpers import chapter
    from d2lc.build.checked import compile_chapter
    from d2lc.emit.backend import get_backend, target_names
    from d2lc.harness.determinism import analyse
    from d2lc.harness.notebooks import plan
    module = compile_chapter(chapter(CALLED + "print(net)\nprint(y.shape)\n"), "ch.md", set(target_names()))
    analysis = analyse(module)
    sites = [s for cell in analysis.prints.values() for s in cell]
    assert [s.printout for s in sites] == [True, False]
    for target in target_names():
        matched = [s for cell in plan(module, get_backend(target), analysis, {}) for s in cell.sites.values()]
        assert [s.printout for s in matched] == ([False] if target == "tensorflow" else [True, False]), target


def test_training_after_a_write_is_a_jax_compile_error(tmp_path):
    """flax's `train` starts from a fresh `init`, so it would drop what was written: a compile error naming jax and
    the line, while the other targets compile the chapter."""
    from helpers import chapter
    from d2lc.build.compile import build
    from d2lc.emit.backend import get_backend, target_names
    src = tmp_path / "ch.md"
    src.write_text(chapter('''\
model Reg():
    out = Linear(1)
    def forward(X: f32[n, 2]):
        return out(X)
features = ones((8, 2))
net = Reg()
y = net(features)
net.out.weight = zeros((1, 2))
train(net, load_array(features, features[:, :1], 4), loss=squared_loss, optimizer=SGD(lr=0.1), epochs=1)
'''), encoding="utf-8")
    for target in target_names():
        result = build([src], [get_backend(target)], tmp_path / target, jobs=1)
        messages = [(d.loc.line, d.loc.col, d.message) for ds in result.errors.values() for d in ds]
        if target == "jax":
            assert messages == [(12, 7, "training `net` after writing its parameters is not supported by target `jax`")]
        else:
            assert not messages, (target, messages)


# A read bound to a name before a write, or whose elements are written later, keeps its values (and the write leaves
# the parameter alone): PyTorch's `.data`, gluon's `data()` and a Paddle parameter share the parameter's memory.
ALIASED = '''\
model Reg():
    out = Linear(2)
    def forward(X: f32[n, 2]):
        return out(X)
X = ones((3, 2))
net = Reg()
Y = net(X)
net.out.bias = ones((2,))
net.out.weight = ones((2, 2))
b = net.out.bias
W = net.out.weight
net.out.bias[:] = 5.0
net.out.weight[0, 0] = 7.0
net.out.bias += 1
print(float(b[0]), float(W[0, 0]), float(net.out.bias[0]))
print(float(net.out.weight[0, 0]))
c = net.out.bias
c[1] = -3.0
print(float(net.out.bias[1]), float(c[1]))
'''
ALIASED_WANT = "1.0 1.0 6.0\n7.0\n6.0 -3.0\n"


def test_a_read_is_not_changed_by_later_writes(tmp_path):
    printed = run_everywhere(ALIASED, tmp_path)
    assert all(out == ALIASED_WANT for out in printed.values()), printed


def test_a_read_that_shares_memory_is_caught(tmp_path, monkeypatch):
    """Without the copies, the writes show through the reads on the three frameworks whose reads share memory."""
    import d2lc.passes.param_grads as pg
    monkeypatch.setattr(pg, "mark_param_copies", lambda top: None)
    from helpers import run_on_every_target
    runs = run_on_every_target(ALIASED, tmp_path, cwd=tmp_path)
    assert {t for t, run in runs.items() if run.error or run.stdout != ALIASED_WANT} == {"pytorch", "mxnet", "paddle"}
