"""PaddlePaddle: the emitted code runs in .venv-paddle and keeps the DSL's meaning where Paddle's defaults differ.

The exact spellings are in targets/paddle/goldens.md; these tests run code (skipped without the environment).
"""
from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from d2lc.emit.backend import get_backend
from d2lc.tools.goldens import chapter_text, known_targets
from d2lc.build.envs import framework_available, python_for
from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import emit_cells

PADDLE = get_backend("paddle")


def run_paddle(dsl: str, check: str = "") -> str:
    """Run the Paddle code compiled from `dsl`, then the plain Python `check`; returns what was printed."""
    python = python_for(PADDLE)
    if python is None or not framework_available(str(python), PADDLE.environment.packages):
        pytest.skip("PaddlePaddle is not installed (scripts/envs.sh paddle)")
    module = compile_chapter(chapter_text(dsl), "test.md", known_targets())
    code = "\n\n".join(src for kind, src, _ in emit_cells(module, PADDLE) if kind == "code")
    code += "\n\n" + textwrap.dedent(check)
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([str(python), "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, f"{code}\n---\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_backend_is_registered_with_its_alias():
    assert get_backend("paddlepaddle") is PADDLE
    assert PADDLE.layouts.dense_weight == "in_out" and PADDLE.layouts.activations == "NCHW"
    assert PADDLE.environment.name == "paddle"


def test_an_earlier_gradient_survives_later_ones():
    out = run_paddle("""
        x = arange(4.0)
        g = grad(dot(x, x), x)
        h = grad(x.sum(), x)
        k = grad((3 * x).sum(), x)
        """, "print(g.numpy().tolist(), h.numpy().tolist(), k.numpy().tolist())")
    assert out.strip() == "[0.0, 2.0, 4.0, 6.0] [1.0, 1.0, 1.0, 1.0] [3.0, 3.0, 3.0, 3.0]"


def test_a_gradient_survives_a_later_one_for_another_variable():
    """`g = x.grad` after the first `backward()`: a later gradient for z whose value also depends on x must not add
    into x's buffer (planted: `backward()` for the first gradient of each variable gives g = [5, 8])."""
    out = run_paddle("""
        x = tensor([1.0, 2.0])
        z = tensor([3.0, 4.0])
        g = grad((x * x).sum(), x)
        h = grad((x * z).sum(), z)
        """, "print(g.numpy().tolist(), h.numpy().tolist())")
    assert out.strip() == "[2.0, 4.0] [1.0, 2.0]"


def test_gradients_in_a_loop_do_not_accumulate():
    out = run_paddle("""
        x = tensor([1.0, 2.0])
        total = zeros((2,))
        for i in range(3):
            total = total + grad((x * x).sum(), x)
        """, "print(total.numpy().tolist())")
    assert out.strip() == "[6.0, 12.0]"


def test_dtypes_follow_the_ir():
    out = run_paddle("""
        a = arange(4)
        F = full((2,), 7)
        b = a / 2
        c = a + 0.5
        d = a * arange(4.0)
        m = a.mean()
        r = relu(a - 2)
        w = where(a > 1, a, 0)
        n = a.numel()
        """, """
        print(a.dtype, b.dtype, c.dtype, d.dtype, m.dtype, F.dtype)
        print(r.numpy().tolist(), w.numpy().tolist(), n)
        """)
    first, second = out.strip().splitlines()
    assert first.split() == ["paddle.int64", "paddle.float32", "paddle.float32", "paddle.float32", "paddle.float32", "paddle.int64"]
    assert second == "[0, 0, 0, 1] [0, 0, 2, 3] 4"


def test_random_draws_are_reproducible_and_in_range():
    out = run_paddle("""
        seed(7)
        a = uniform((1000,))
        seed(7)
        b = uniform((1000,))
        """, "print(bool((a == b).all()), a.min().item() >= 0.0, a.max().item() < 1.0)")
    assert out.split() == ["True", "True", "True"]


def test_models_train_with_static_and_lazily_built_layers():
    out = run_paddle("""
        model Sized(num_inputs: int, k: int = 1):
            net = Sequential(Linear(8), BatchNorm1d(), ReLU(), Linear(k))
            def forward(X: f32[n, num_inputs]):
                return net(X)

        model Unsized(k: int = 1):
            net = Sequential(Linear(8), Tanh(), Linear(k))
            def forward(X: f32[n, d]):
                return net(X)

        data = synthetic_regression(tensor([2.0, -3.4]), 4.2, num_train=64, num_val=32, batch_size=16)
        a = Sized(2)
        b = Unsized()
        train(a, data, loss=squared_loss, optimizer=SGD(lr=0.01), epochs=1)
        train(b, data, loss=squared_loss, optimizer=Adam(lr=0.01), epochs=1, clip=1.0)
        """, """
        print(len(a.parameters()), len(b.parameters()), a(paddle.ones([3, 2])).shape, b(paddle.ones([3, 2])).shape)
        """)
    assert out.strip().splitlines()[-1] == "8 4 paddle.Size([3, 1]) paddle.Size([3, 1])"


ITEMS = """
model Items(channels: tuple = (4, 6), k: int = 3):
    net = Sequential(Conv2d(channels[0], kernel=3, padding=1), ReLU(), Conv2d(channels[1], kernel=3), Flatten(), Linear(k))
    def forward(X: f32[b, 1, 6, 6]):
        return net(X)

X = normal((2, 3, 5, 5))
conv = Conv2d(4, kernel=3)
print(conv(X).shape)
"""


def test_an_item_of_a_tuple_hyperparameter_sizes_the_next_layer_without_lazy():
    """`Conv2d(channels[1])` after `Conv2d(channels[0])`: built with `channels[0]` input channels, and the Linear after
    Flatten with `channels[1] * 16` inputs, and a top-level Conv2d with the channels of the input its first call gets,
    none through the Lazy shim (planted: `_sym` ignoring `channels[i]`, or `_in_size` ignoring top-level calls, brings
    `Lazy(` back); another tuple value still builds layers that fit."""
    module = compile_chapter(chapter_text(ITEMS), "test.md", known_targets())
    code = "\n\n".join(src for kind, src, _ in emit_cells(module, PADDLE) if kind == "code")
    assert "Lazy" not in code and "channels[0],\n" in code and "channels[1] * 16," in code and "nn.Conv2D(3, 4, 3" in code, code
    out = run_paddle(ITEMS, """
        print(Items()(paddle.ones([2, 1, 6, 6])).shape, Items(channels=(2, 5), k=4)(paddle.ones([2, 1, 6, 6])).shape)
        """)
    assert out.strip().splitlines()[-1] == "paddle.Size([2, 3]) paddle.Size([2, 4])"


JOINED = """
def step(w: f32[2], b: f32[1]):
    l = ((w * w).sum() + 3 * b.sum()) ** 2
    gw = grad(l, w)
    gb = grad(l, b)
    return gw.sum() + gb.sum()

w = tensor([1.0, 2.0])
b = tensor([0.5])
for i in range(2):
    l = (w * w).sum() * b.sum()
    gw = grad(l, w).clone()
    gb = grad(l, b).clone()
    w = (w - 0.1 * gw).detach()
    b = (b - 0.1 * gb).detach()
s = step(w, b)
l = (w * w).sum() * b.sum()
h = grad(l, w)
k = grad(l, b)
h2 = grad(l, w)
"""


def test_gradients_of_one_value_come_from_one_call():
    """`gw = grad(l, w)` then `gb = grad(l, b)`: one run of `l` and one `paddle.grad(l, [w, b])` call, in a loop,
    in a function and at the top level, where `grad(l, w)` once more reads the same call (Paddle refuses [w, b, w])
    (planted: the Paddle emitter ignoring `joined_wrts` gives two calls and two runs), with the values of the
    separate gradients."""
    module = compile_chapter(chapter_text(JOINED), "test.md", known_targets())
    code = "\n\n".join(src for kind, src, _ in emit_cells(module, PADDLE) if kind == "code")
    assert code.count("paddle.grad(") == 3 and ".backward()" not in code, code
    assert code.count("l = (w * w).sum() * b.sum()") == 2 and code.count("paddle.grad(l, [w, b])") == 2, code
    out = run_paddle(JOINED, "print([round(v, 5) for v in w.numpy().tolist() + b.numpy().tolist() + [s.item()]])\n"
                             "print(bool((h == 2 * b * w).all()), bool((h2 == h).all()), bool((k == (w * w).sum()).all()))")
    w, b = [1.0, 2.0], 0.5
    for _ in range(2):  # l = |w|^2 b: dl/dw = 2 b w, dl/db = |w|^2
        gw, gb = [2 * b * v for v in w], sum(v * v for v in w)
        w, b = [v - 0.1 * g for v, g in zip(w, gw)], b - 0.1 * gb
    inner = sum(v * v for v in w) + 3 * b  # l = inner^2: dl/dw = 2 inner 2w, dl/db = 2 inner 3
    s = sum(2 * inner * 2 * v for v in w) + 2 * inner * 3
    assert out.strip().splitlines()[-2:] == [str([round(v, 5) for v in [*w, b, s]]), "True True True"]


def test_a_default_linear_weight_is_not_spelt_out():
    """nn.Linear already starts its weight at Glorot's uniform, the language's default: no `weight_attr=` unless the
    chapter states `init=`; nn.Conv2D (Kaiming's normal of its own) keeps it (planted: no `weight_defaults` brings the
    XavierUniform back). That the draws are the language's is checked by tests/test_layer_inits.py (DefaultDense)."""
    module = compile_chapter(chapter_text("""
        model M():
            net = Sequential(Conv2d(4, kernel=3), Flatten(), Linear(8), ReLU(), Linear(2, init=xavier))
            def forward(X: f32[b, 1, 5, 5]):
                return net(X)
        """), "test.md", known_targets())
    code = "\n\n".join(src for kind, src, _ in emit_cells(module, PADDLE) if kind == "code")
    assert "nn.Linear(36, 8)" in code and code.count("XavierUniform()") == 2, code


def test_fashion_mnist_is_read_from_numpy_arrays(tmp_path, monkeypatch):
    """The loader decodes the files once into NumPy arrays that `__getitem__` indexes (planted: a TensorDataset of
    Paddle tensors, indexed one op per example, about twice as slow); batches, with and without resizing, hold the
    bytes / 255 and int64 labels."""
    from d2lc.build.sampledata import data_env, write_fashion_mnist
    write_fashion_mnist(tmp_path, n_train=40, n_test=24)
    for k, v in data_env(tmp_path).items():
        monkeypatch.setenv(k, v)
    out = run_paddle("""
        data = fashion_mnist(batch_size=16)
        wide = fashion_mnist(batch_size=8, resize=(32, 40))
        """, f"""
        import gzip
        train, val = data
        images = numpy.frombuffer(gzip.open("{tmp_path}/fashion-mnist/t10k-images-idx3-ubyte.gz").read(), numpy.uint8, offset=16)
        X, y = next(iter(val))
        W, v = next(iter(wide[1]))
        print(type(train.dataset.images).__name__, len(train.dataset), len(val.dataset))
        print(X.shape, X.dtype, y.shape, y.dtype, W.shape, v.dtype)
        print(numpy.abs(X.numpy() - images.reshape(-1, 1, 28, 28)[:16] / 255).max() < 1e-6)
        """)
    assert out.strip().splitlines() == [
        "ndarray 40 24",
        "paddle.Size([16, 1, 28, 28]) paddle.float32 paddle.Size([16]) paddle.int64 paddle.Size([8, 1, 32, 40]) paddle.int64",
        "True"]


TRANSPOSED = """
model M():
    net = Sequential(Linear(3), ReLU(), Linear(2))
    def forward(X: f32[n, 4]):
        return net(X)

seed(0)
X = normal((5, 4))
m = M()
y = m(X)
by_hand = relu(X @ m.net[0].weight.T + m.net[0].bias) @ m.net[2].weight.T + m.net[2].bias
V = m.net[2].weight.T
err = (y - by_hand).abs().max()
"""


def test_the_transpose_of_a_read_linear_weight_is_the_stored_weight():
    """A Linear weight read in the canonical layout is `w.T`; its transpose in an expression is Paddle's `w`, not
    `w.T.T` (planted: `_transpose` always adding `.T`); bound to a name it stays a tensor, not the Parameter itself
    (which prints otherwise)."""
    module = compile_chapter(chapter_text(TRANSPOSED), "test.md", known_targets())
    code = "\n\n".join(src for kind, src, _ in emit_cells(module, PADDLE) if kind == "code")
    assert "X @ m.net[0].weight + m.net[0].bias" in code and code.count(".T.T") == 1, code
    out = run_paddle(TRANSPOSED, "print(err.item() < 1e-5, type(V).__name__, bool((V == m.net[2].weight).all()))")
    assert out.split() == ["True", "Tensor", "True"]


def test_several_axes_and_tensors_are_lists():
    """Paddle's idiom for several axes or tensors is a list: `x.mean(axis=[0, 2])`, `paddle.concat([a, b])`
    (planted: the tuple of the source kept), with the values of the tuple spelling."""
    dsl = """
        X = arange(24.0).reshape((2, 3, 4))
        m = X.mean(axis=(0, 2), keepdims=True)
        v = X.var(axis=(0, 2))
        c = concat((X, X), axis=1)
        s = stack((m, m), axis=0)
        """
    module = compile_chapter(chapter_text(dsl), "test.md", known_targets())
    code = "\n\n".join(src for kind, src, _ in emit_cells(module, PADDLE) if kind == "code")
    assert "axis=(" not in code and "concat([X, X]" in code and "stack([m, m]" in code, code
    out = run_paddle(dsl, "print(m.numpy().ravel().tolist(), v.shape, c.shape, s.shape)")
    import numpy as np
    X = np.arange(24.0).reshape(2, 3, 4)
    assert out.strip() == f"{X.mean(axis=(0, 2)).tolist()} paddle.Size([3]) paddle.Size([2, 6, 4]) paddle.Size([2, 1, 3, 1])"
