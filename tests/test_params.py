"""Parameter and sub-layer access (docs/dsl.md, "Parameters and sub-layers"): the error messages, compared whole, and
the same parameters read on every target in the canonical layout, checked against what each framework's own layers
compute (a planted bug, Keras' kernel left untransposed, is caught)."""
from __future__ import annotations

import pytest

from test_errors import assert_error
from test_soundness import run_everywhere

M = '''\
model MLP(num_hiddens: int = 8):
    net = Sequential(Linear(num_hiddens), ReLU(), Linear(3, bias=False))
    out = Linear(2)
    def forward(X: f32[n, 4]):
        return out(net(X))
net = MLP()
'''
CALLED = M + "y = net(ones((2, 4)))\n"
HINT = "  hint: read a layer's tensors by name (`net.out.weight`, `net.net[0].bias`); count them with `num_params(net)`\n"
BUILT = ("  expected: net(X) or train(net, ...) at the top level, before this line\n  hint: frameworks make a layer's parameters "
         "when it first sees an input (its shapes); call the model once outside loops and branches\n")

CASES = [
    ("index_out_of_range", CALLED + "print(net.net[3].weight)\n", '''\
ch.md:11:15: error: index 3 is out of range for a Sequential of 3 layers
    print(net.net[3].weight)
                  ^
  expected: an index in [-3, 2]
  hint: indices start at 0 and count every layer, activations included
'''),
    ("no_such_member", CALLED + "print(net.head.weight)\n", '''\
ch.md:11:11: error: model `MLP` has no member `head`
    print(net.head.weight)
              ^^^^
  expected: one of: net, out
''' + HINT),
    ("no_such_weight", CALLED + "print(net.out.kernel)\n", '''\
ch.md:11:15: error: `Linear` has no tensor `kernel`
    print(net.out.kernel)
                  ^^^^^^
  expected: one of: .weight, .bias
''' + HINT),
    ("no_bias", CALLED + "print(net.net[2].bias)\n", '''\
ch.md:11:18: error: `Linear(..., bias=False)` has no bias
    print(net.net[2].bias)
                     ^^^^
  expected: one of: .weight
''' + HINT),
    ("activation_has_none", CALLED + "print(net.net[1].weight)\n", '''\
ch.md:11:18: error: `ReLU` has no parameters
    print(net.net[1].weight)
                     ^^^^^^
  expected: a layer with parameters
  hint: index its Sequential to reach a layer with parameters
'''),
    ("index_a_model", CALLED + "print(net[0].weight)\n", '''\
ch.md:11:7: error: model `MLP` cannot be indexed
    print(net[0].weight)
          ^^^^^^
  expected: a Sequential, e.g. net.net[0]
  hint: read a model's members by name (`net.out`); only a Sequential is indexed
'''),
    ("before_called", M + "print(net.out.weight)\n", '''\
ch.md:10:15: error: `net` has no parameters yet: it has not been called on data
    print(net.out.weight)
                  ^^^^^^
''' + BUILT),
    ("called_in_loop_only", M + "for i in range(2):\n    y = net(ones((2, 4)))\nprint(num_params(net))\n", '''\
ch.md:12:7: error: `net` has no parameters yet: it has not been called on data
    print(num_params(net))
          ^^^^^^^^^^
''' + BUILT),
    ("sublayer_alone", CALLED + "print(net.out)\n", '''\
ch.md:11:11: error: a sub-layer is read only for its parameters
    print(net.out)
              ^^^
  expected: net.net[0].weight, net.out.bias
''' + HINT),
    ("shape_checked", CALLED + "w = net.out.weight @ ones((4, 5))\n", '''\
ch.md:11:20: error: shape mismatch in matrix product: [2, 3] @ [4, 5]
    w = net.out.weight @ ones((4, 5))
                       ^
  expected: the last dimension of the left operand (3) to equal the second-to-last dimension of the right (4)
  hint: transpose one operand (`.T`) or check which axis holds the features
'''),
    ("flattened_channels", '''\
model Small():
    net = Sequential(Conv2d(4, kernel=3), Flatten(), Linear(3))
    def forward(X: f32[b, 1, 6, 6]):
        return net(X)
net = Small()
y = net(ones((2, 1, 6, 6)))
print(net.net[2].weight)
''', '''\
ch.md:10:18: error: reading the weight of a `Linear` that reads flattened features of several channels is not supported yet
    print(net.net[2].weight)
                     ^^^^^^
  expected: a Linear after a Flatten of one channel, or of features
  hint: channels-last frameworks order such a weight's inputs differently; read its bias, or another layer
'''),
    ("inside_def", M + "def f(x: f32[n]) -> f32[n]:\n    return x * net.out.bias.sum()\n", '''\
ch.md:11:16: error: parameters are read at the top level of a chapter
        return x * net.out.bias.sum()
                   ^^^
  expected: print(net.out.weight) outside `def` and `model`
  hint: inside a model, use the member itself; pass a tensor to a function
'''),
]


@pytest.mark.parametrize("src, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_param_access_error(src, expected):
    assert_error(src, expected)


# Each target reads the parameters its own way (a Keras kernel is (in, out), a flax one sits in the variables pytree
# under Dense_1, a Paddle Linear's weight is [in, out]); every read must give the canonical layout, so recomputing a
# layer's output from its parameters gives what the layer itself computed, and the shapes print alike.
AGREE = '''\
model ConvNet(c: int = 4):
    body = Sequential(Conv2d(c, kernel=3), BatchNorm2d(), Flatten())
    head = Linear(3)
    scale = param((3,), init=constant(2.0))
    def forward(X: f32[b, 2, 3, 3]):
        return head(body(X)) * scale
model Outer():
    inner = ConvNet()
    extra = Linear(2)
    def forward(X: f32[b, 2, 3, 3]):
        return extra(inner(X))
seed(0)
X = normal((2, 2, 3, 3))
net = Outer()
Y = net(X)
W = net.inner.body[0].weight
print(W.shape[0], W.shape[1], W.shape[2], W.shape[3], num_params(net))
conv = X.reshape(2, 18) @ W.reshape(4, 18).T + net.inner.body[0].bias
Z = (conv @ net.inner.head.weight.T + net.inner.head.bias) * net.inner.scale
print(float(abs(Y - (Z @ net.extra.weight.T + net.extra.bias)).max()) < 1e-4)
print(float(net.inner.body[1].running_var.sum()), float(net.inner.body[1].weight.sum()), float(net.inner.body[-2].bias.sum()))
seq = Sequential(Linear(5), ReLU(), Linear(3))
S = seq(X[:, 0, 0])
print(float(abs(S - (relu(X[:, 0, 0] @ seq[0].weight.T + seq[0].bias) @ seq[2].weight.T + seq[-1].bias)).max()) < 1e-5)
print(seq[2].weight.shape[0], seq[2].weight.shape[1], num_params(seq))
flat = Sequential(Flatten(), Linear(3))
F = flat(X[:, :1])
print(float(abs(F - (X[:, :1].reshape(2, 9) @ flat[1].weight.T + flat[1].bias)).max()) < 1e-5)
'''
WANT = "4 2 3 3 110\nTrue\n4.0 4.0 0.0\nTrue\n3 5 38\nTrue\n"  # 110 = 4*2*9+4 + 8 + 4*3+3 + 3 + 3*2+2


def test_parameters_agree_on_every_target(tmp_path):
    printed = run_everywhere(AGREE, tmp_path)
    wrong = {t: out for t, out in printed.items() if out != WANT}
    assert not wrong, f"expected every target to print\n{WANT}got: {wrong}"


def test_an_untransposed_keras_kernel_is_caught(tmp_path, monkeypatch):
    from d2lc.emit.backend import get_backend
    params = next(c for c in get_backend("tensorflow").emitter.__mro__ if c.__name__ == "TensorFlowParams")
    monkeypatch.setattr(params, "param_value", lambda self, code, layer, name: code)  # the kernel as Keras stores it
    with pytest.raises(AssertionError):
        printed = run_everywhere(AGREE, tmp_path)
        assert printed.get("tensorflow") == WANT, printed.get("tensorflow")
