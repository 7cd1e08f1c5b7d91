"""Chapters that once compiled cleanly and then crashed or printed wrong values on some target (issue 10).

Each case is compiled for every target and run in that target's framework environment; every target
must print the same lines. Cases that must be rejected check the compile error and its location.
"""
from __future__ import annotations

import textwrap
from pathlib import Path


from d2lc.emit.backend import target_names
from helpers import chapter, notebook_code, run_on_every_target  # noqa: F401 (notebook_code: re-exported)



def run_everywhere(dsl: str, tmp_path: Path) -> dict[str, str]:
    """Compile `dsl` for every target and run each notebook in tmp_path; target -> what it printed. Fails on any error."""
    runs = run_on_every_target(dsl, tmp_path, cwd=tmp_path)
    failures = [f"{target}:\n{run.error}" for target, run in runs.items() if run.error]
    assert not failures, "\n".join(failures)
    return {target: run.stdout for target, run in runs.items()}


def agree(dsl: str, tmp_path: Path, expected: str) -> None:
    printed = run_everywhere(dsl, tmp_path)
    want = textwrap.dedent(expected).strip("\n") + "\n"
    wrong = {t: out for t, out in printed.items() if out != want}
    assert not wrong, f"expected every target to print\n{want}got: {wrong}"


def test_top_level_pooling_layer_keeps_nchw(tmp_path):
    agree("""
        X = arange(2.0 * 3 * 9 * 9).reshape(2, 3, 9, 9)
        pool = MaxPool2d(3, stride=2)
        Y = pool(X)
        print(Y.shape[0], Y.shape[1], Y.shape[2], Y.shape[3])
        print(float(Y[0, 1, 2, 3]), float(Y[1, 2, 3, 0]))
        avg = AvgPool2d(2)
        Z = avg(X)
        print(Z.shape[1], Z.shape[2], float(Z[1, 2, 3, 1]))
        flat = Flatten()
        print(float(flat(X)[1, 100]))
    """, tmp_path, """
        2 3 4 4
        143.0 479.0
        3 4 466.0
        343.0
    """)


def test_top_level_sequential_is_initialised_before_use(tmp_path):
    agree("""
        X = ones((2, 4))
        net = Sequential(Linear(8), ReLU(), Linear(1))
        Y = net(X)
        print(Y.shape[0], Y.shape[1])
        hidden = Sequential(Linear(3), ReLU())
        print(float(hidden(X).min()) >= 0.0)
    """, tmp_path, """
        2 1
        True
    """)


def test_member_layer_shared_inside_member_sequential(tmp_path):
    agree("""
        model Tied():
            shared = Linear(8)
            net = Sequential(Linear(8), ReLU(), shared, ReLU(), shared, ReLU(), Linear(1))
            def forward(X: f32[n, 4]):
                return net(X)

        net = Tied()
        Y = net(ones((2, 4)))
        print(Y.shape[0], Y.shape[1])
    """, tmp_path, """
        2 1
    """)


def test_conv_padding_from_a_hyperparameter_or_an_expression(tmp_path):
    agree("""
        model Net(padding: int = 1, kernel: int = 3):
            conv = Conv2d(4, kernel=kernel, padding=padding)
            conv2 = Conv2d(4, kernel=5, padding=kernel // 2 + 1)
            def forward(X: f32[n, 1, 8, 8]):
                return conv2(conv(X))

        net = Net()
        Y = net(ones((2, 1, 8, 8)))
        print(Y.shape[0], Y.shape[1], Y.shape[2], Y.shape[3])
    """, tmp_path, """
        2 4 8 8
    """)


def compile_errors(dsl: str) -> list[str]:
    """`file:line:col: message` of every diagnostic compiling `dsl` for every target reports."""
    from d2lc.core.diagnostics import CompileError
    from d2lc.build.checked import compile_chapter
    try:
        compile_chapter(chapter(dsl), "case.md", set(target_names()))
    except CompileError as exc:
        return [f"{d.loc.file}:{d.loc.line}:{d.loc.col}: {d.message}" for d in exc.diagnostics]
    return []


def test_one_layer_reused_on_a_different_input_size_is_a_compile_error():
    assert compile_errors("""
        model Reuse():
            conv = Conv2d(4, kernel=3, padding=1)
            def forward(X: f32[n, 1, 8, 8]):
                return conv(conv(X))
    """) == ["case.md:7:16: this `Conv2d` was first applied to 1 input channels (line 7), here to 4"]
    assert compile_errors("""
        model Fine():
            conv = Conv2d(4, kernel=3, padding=1)
            def forward(X: f32[n, 4, 8, 8]):
                return conv(conv(X))
    """) == []


def test_shapes_are_checked_through_model_boundaries():
    errors = compile_errors("""
        model Down():
            conv = Conv2d(4, kernel=3)
            pool = MaxPool2d(2)
            def forward(X: f32[n, c, h, w]):
                return pool(conv(X))

        model Net():
            a = Down()
            b = Down()
            c = Down()
            def forward(X: f32[n, 1, 12, 12]):
                return c(b(a(X)))
    """)
    assert errors == ["case.md:8:21: `Conv2d`: a window of 3 with padding 0 does not fit a size of 1"]
    assert compile_errors("""
        model Down():
            conv = Conv2d(4, kernel=3)
            def forward(X: f32[n, c, h, w]):
                return conv(X)

        net = Down()
        Y = net(ones((2, 1, 5, 5)))
        Z = Y.reshape(2, 4, 10)
    """) == ["case.md:11:7: cannot reshape [2, 4, 3, 3] (72 elements) into [2, 4, 10] (80 elements)"], "a model call has its forward's type for the call's sizes, [2, 4, 3, 3]"


def test_a_layer_forward_may_skip_trains_on_mxnet(tmp_path):
    """gluon defers a layer's shapes to its first call: one that `if` skips had no parameters for the Trainer."""
    printed = run_everywhere("""
        model Block(num_layers: int = 1):
            l1 = Linear(1)
            l2 = Linear(1)
            def forward(X: f32[n, 2]):
                Y = l1(X)
                if num_layers > 1:
                    Y = l2(Y)
                return Y

        data = synthetic_regression(tensor([2.0, -3.4]), 4.2, num_train=64, num_val=32, batch_size=16)
        net = Block()
        train(net, data, loss=squared_loss, optimizer=SGD(lr=0.03), epochs=1)
        print(net(ones((3, 2))).shape[0])
    """, tmp_path)
    assert {t: out.splitlines()[-1] for t, out in printed.items()} == {t: "3" for t in printed}


def test_a_model_made_in_the_train_call_is_initialised_on_mxnet(tmp_path):
    """`train(MLP(), ...)` (as docs/dsl.md writes it): gluon needs `initialize()` before the Trainer reads the
    parameters, and it used to follow assignments only."""
    printed = run_everywhere("""
        model MLP(h: int = 4):
            net = Sequential(Linear(h), ReLU(), Linear(1))
            def forward(X: f32[n, 2]):
                return net(X)

        data = synthetic_regression(tensor([2.0, -3.4]), 4.2, num_train=64, num_val=32, batch_size=16)
        train(MLP(h=8), data, loss=squared_loss, optimizer=SGD(lr=0.03), epochs=1)
        print("trained")
    """, tmp_path)
    assert {t: out.splitlines()[-1] for t, out in printed.items()} == {t: "trained" for t in printed}


def test_a_creation_op_sized_by_an_unannotated_hyperparameter_in_forward(tmp_path):
    """`arange(h)` / `zeros((n, h))` in a forward, with `h=4` unannotated: typed by the default (an int), so it
    compiles and agrees everywhere (it was an internal error: the hyperparameter was untyped)."""
    agree("""
        model Tiny(vocab_size=5, h=4):
            W = param((vocab_size, h), init=constant(0.5))
            def forward(X: i64[b, t]):
                inputs = (X.unsqueeze(-1) == arange(vocab_size)).astype(f32)
                H = zeros((X.shape[0], h)) + 1.0
                return inputs @ W + H.sum()
        net = Tiny()
        Y = net(tensor([[1, 2, 7]]))
        print(Y.shape[0], Y.shape[1], Y.shape[2])
        print(float(Y[0, 0, 0]), float(Y[0, 2, 3]))
    """, tmp_path, """
        1 3 4
        4.5 4.0
    """)


def test_a_slice_with_run_time_bounds_has_a_run_time_size(tmp_path):
    """A slice bound from a loop variable or a variable once counted as absent: `X[i * k:(i + 1) * k]` was typed as
    the whole axis, a false broadcast error against its true size."""
    agree("""
        X = arange(12.0)
        k = 3
        for i in range(4):
            print(float((X[i * k:(i + 1) * k] + ones((3,))).sum()))
        T = arange(10.0)
        for t in range(1, 3):
            print(float((T[t:t + 2] * T[0:2]).sum()), T[t:].shape[0])
    """, tmp_path, """
        6.0
        15.0
        24.0
        33.0
        2.0 9
        3.0 8
    """)


def test_a_lambda_over_python_numbers_gets_its_typed_body(tmp_path):
    """A lambda called with a Python float, whose body applies tensor ops: its first call types the body the notebook
    gets, so each target wraps the number (it was an internal error, and `torch.exp(float)` raised at run time)."""
    agree("""
        decay = lambda t: exp(-0.5 * t)
        scale = lambda t: tensor((1 + 1.0 * t) ** -0.5)
        print(float(decay(0.0)), float(scale(3.0)), float(decay(2.0)) < 0.37)
    """, tmp_path, """
        1.0 0.5 True
    """)


def test_a_lambda_called_with_other_dtypes_is_a_compile_error():
    assert compile_errors("""
        twice = lambda t: t * 2.0
        print(twice(tensor([1.0, 2.0])), twice(tensor([[3.0]])))
    """) == ["case.md:5:34: this lambda is called here with values of other dtypes or ranks than at line 5"]
    assert compile_errors("""
        twice = lambda t: t * 2.0
        print(twice(tensor([1.0, 2.0])), twice(tensor([3.0])))
    """) == []


def test_ops_across_ranks_inside_a_channels_last_model(tmp_path):
    """Inside a model TensorFlow and flax store rank-4 values NHWC; a reshape or squeeze across ranks, a rank-4
    transpose or matmul, broadcasting against a lower rank and a reduction or index that keeps the channel axis next
    to a spatial one must still compute the NCHW result (they reordered the shape instead: wrong values)."""
    agree("""
        model Heads(heads: int = 2):
            proj = Linear(4, init=constant(1.0))
            def forward(X: f32[b, n, 2]):
                Z = reshape(proj(X), (-1, X.shape[1], heads, 2))
                return transpose(Z, (0, 2, 1, 3))

        model Mixed():
            conv = Conv2d(2, kernel=1, init=constant(1.0))
            def forward(X: f32[b, 1, 3, 4]):
                H = conv(X) * arange(1.0, 3.0).reshape((1, 2, 1, 1))
                flat = reshape(H, (X.shape[0], -1))
                row = H.sum(axis=2)
                col = H[:, :, 1]
                gram = H @ transpose(H, (0, 1, 3, 2))
                wide = H * arange(4.0)
                return flat[:, 5] + row[:, 1, 2] + col[:, 1, 3] + gram[:, 1, 2, 0] + wide[:, 1, 2, 3] + unsqueeze(H, 1)[:, 0, 1, 2, 3]

        heads = Heads()
        Y = heads(arange(6.0).reshape((1, 3, 2)))
        print(Y.shape[1], Y.shape[2], Y.shape[3], float(Y[0, 1, 2, 0]), float(Y[0, 0, 1, 1]))
        mixed = Mixed()
        M = mixed(arange(12.0).reshape((1, 1, 3, 4)))
        print(float(M[0]))
    """, tmp_path, """
        2 3 2 9.0 5.0
        391.0
    """)


def test_a_recurrent_layer_called_at_the_top_level_gives_its_outputs(tmp_path):
    """`GRU(...)` / `LSTM(...)` bound to a name and called outside a model: PyTorch and Paddle return (outputs,
    final state), so `g(X).shape` raised there; every target now gives the outputs, as inside a model."""
    agree("""
        g = GRU(8, 16)
        l = LSTM(8, 4, bidirectional=True)
        X = ones((2, 5, 8))
        H = g(X)
        print(H.shape[0], H.shape[1], H.shape[2], l(X).shape[2])
    """, tmp_path, """
        2 5 16 8
    """)


def test_shape_reads_of_a_rank4_value_inside_a_channels_last_model(tmp_path):
    """Issue 11: inside a model TensorFlow and flax store rank-4 values NHWC, so a read of the shape (`Y.shape[1]`,
    `n, c, h, w = Y.shape`, a shape held in a name, read at a run-time index or passed to a creation op or a
    reshape) must give the NCHW sizes; one inside an operand of an op computed on the NCHW view (a reshape's shape, an
    index, a reduction broadcast against the value) was emitted unmapped and read H for C."""
    agree("""
        model Patches():
            conv = Conv2d(3, kernel=1, init=constant(1.0))
            def forward(X: f32[b, 1, 2, 4]):
                Y = conv(X) * arange(1.0, 4.0).reshape((1, 3, 1, 1))
                n, c, h, w = Y.shape
                return transpose(reshape(Y, (n, c, -1)), (0, 2, 1))

        model Heads(heads: int = 2):
            proj = Linear(6, init=constant(1.0))
            def forward(X: f32[b, 4, 3]):
                Y = reshape(proj(X) * arange(6.0), (X.shape[0], heads, 4, 3))
                Z = reshape(Y, (Y.shape[0], Y.shape[1], -1))
                S = Y.shape
                k = 0
                for i in range(4):
                    k = k * 10 + Y.shape[i]
                code = S[1] * 1000 + S[2] * 100 + S[-1] * 10 + len(S)
                back = reshape(Z, Y.shape) + zeros(S) + ones(Y.shape)
                last = Y[:, :, Y.shape[2] - 1]
                mixed = Y * Y.sum(axis=1)
                return Z[:, :, 0] * 0.0 + code + k * 10000 + back[0, 1, 3, 2] + last[0, 1, 2] + mixed[0, 1, 2, 1]

        p = Patches()
        T = p(arange(8.0).reshape((1, 1, 2, 4)))
        print(T.shape[1], T.shape[2], float(T[0, 5, 2]), float(T[0, 7, 1]))
        heads = Heads()
        H = heads(arange(12.0).reshape((1, 4, 3)))
        print(H.shape[0], H.shape[1], float(H[0, 1]))
    """, tmp_path, """
        8 3 15.0 14.0
        1 2 12433995.0
    """)


def test_a_function_called_inside_a_channels_last_model_sees_nchw(tmp_path):
    """Issue 11: a chapter function's body is NCHW code; called inside a TensorFlow or flax model it was handed the
    NHWC-stored value, so `Y.shape[1]` read H and a reshape flattened in the wrong order (also through a function
    value: a `def` or a top-level lambda). Rank-4 arguments are now passed NCHW and a rank-4 result stored NHWC again;
    a lambda written inside the model reads the stored layout."""
    agree("""
        def chans(Y: f32[n, c, h, w]) -> int:
            return Y.shape[1]

        def rows(Y: f32[n, c, h, w]):
            return reshape(Y, (Y.shape[0], Y.shape[1], -1))

        def double(Y: f32[n, c, h, w]):
            return Y * 2.0

        def apply(f, Y: f32[n, c, h, w]) -> int:
            return f(Y)

        width = lambda Y: Y.shape[3]

        model Funcs():
            conv = Conv2d(3, kernel=1, init=constant(1.0))
            def forward(X: f32[b, 1, 2, 4]):
                Y = double(conv(X) * arange(1.0, 4.0).reshape((1, 3, 1, 1)))
                local = lambda Z: Z.shape[1]
                named = chans
                shapes = width(Y) * 1000 + apply(chans, Y) * 100 + local(Y) * 10000 + named(Y) * 100000
                return rows(Y) * chans(Y) + Y[:, 1, 1, 2] + shapes

        f = Funcs()
        R = f(arange(8.0).reshape((1, 1, 2, 4)))
        print(R.shape[1], R.shape[2], float(R[0, 2, 5]), float(R[0, 1, 7]))
    """, tmp_path, """
        3 8 334414.0 334408.0
    """)


def test_a_tuple_holding_a_rank4_tensor_across_a_channels_last_boundary_is_a_compile_error(tmp_path):
    """A tuple holding a rank-4 tensor returned by a model, or passed to or from a function inside one, would keep the
    NHWC storage of TensorFlow and flax (its shape read H for C): those targets refuse it, with its location."""
    from d2lc.build.compile import build
    from d2lc.emit.backend import get_backend
    cases = {"function": ("""
        def pair(Y: f32[n, c, h, w]) -> tuple[f32[n, c, h, w], f32[]]:
            return Y, Y.sum()

        model Pairs():
            conv = Conv2d(3, kernel=1)
            def forward(X: f32[b, 1, 2, 4]):
                A, s = pair(conv(X))
                return A * s

        p = Pairs()
        print(p(ones((1, 1, 2, 4))).shape[1])
    """, (10, 16), "a call of `pair` passes or returns a tuple"), "model": ("""
        model Both():
            conv = Conv2d(3, kernel=1)
            def forward(X: f32[b, 1, 2, 4]):
                Y = conv(X)
                return Y, Y.sum()

        m = Both()
        P, q = m(ones((1, 1, 2, 4)))
        print(P.shape[1])
    """, (11, 8), "this model returns a tuple")}
    for name, (dsl, where, message) in cases.items():
        src = tmp_path / f"{name}.md"
        src.write_text(chapter(dsl), encoding="utf-8")
        for target in ("tensorflow", "jax"):
            errors = build([src], [get_backend(target)], tmp_path / target, jobs=1).errors[str(src)]
            assert [((d.loc.line, d.loc.col), message in d.message) for d in errors] == [(where, True)], errors
        for target in ("pytorch", "mxnet", "paddle"):
            assert not build([src], [get_backend(target)], tmp_path / target, jobs=1).errors


def test_gelu_is_the_exact_erf_form_on_every_target(tmp_path):
    """`gelu` and `GELU()` compute x * (1 + erf(x / sqrt 2)) / 2 on every target: JAX's and flax's own default is
    the tanh approximation (off by up to 5e-4 here); an integer tensor is made float32 first (torch has no integer
    kernel)."""
    import math

    def gelu(x: float) -> float:
        return x * (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0
    xs = [[-3.0, -1.0, 0.0], [0.5, 2.0, 4.0]]
    agree(f"""
        model Act():
            act = GELU()
            def forward(X: f32[n, 3]):
                return act(X) * 2.0 - gelu(X)

        X = tensor({xs})
        want = tensor({[[gelu(x) for x in row] for row in xs]})
        a = Act()
        g = GELU()
        print(float(abs(gelu(X) - want).max()) < 1e-6, float(abs(g(X) - want).max()) < 1e-6)
        print(float(abs(a(X) - want).max()) < 1e-6, float(abs(gelu(arange(3)) - tensor({[gelu(i) for i in range(3)]})).max()) < 1e-6)
    """, tmp_path, """
        True True
        True True
    """)


GRAD_BESIDE_A_MODEL = """
model Tiny():
    out = Linear(1, init=ones)
    def forward(X: f32[b, 3]):
        return out(X)

net = Tiny()
w = tensor([1.0, 2.0, 3.0])
X = tensor([[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]])
"""


def test_a_gradient_never_flows_through_a_model_call_silently():
    """`grad` of a tensor does not differentiate through a model's layers: a path from x through a model call used to
    be left out without a word (every target printed the gradient of the direct path only, a wrong number), and a
    model call on the path alone gave "does not depend on `w`"."""
    errors = compile_errors(GRAD_BESIDE_A_MODEL + "h = net(X * w)\ny = (h.sum() * w).sum()\ng = grad(y, w)\n")
    assert errors == ["case.md:12:5: the gradient with respect to `w` would flow through this call of `net`, and `grad` "
                      "of a tensor does not differentiate through a model or layer"], errors
    assert compile_errors(GRAD_BESIDE_A_MODEL + "h = detach(net(X * w))\ng = grad((h.sum() * w).sum(), w)\n") == []


def test_a_replayed_model_call_needs_its_inputs_and_its_model_unchanged():
    """TensorFlow records at the statement, the others replay it at `grad`: a statement that calls a model must
    compute the same at both places (JAX replayed `net(X)` with the X reassigned after it, and initialised the
    model inside the function it differentiated)."""
    base = GRAD_BESIDE_A_MODEL + "y = (net(X).sum() * w).sum()\n"
    rebound = compile_errors(base + "X = zeros((2, 3))\ng = grad(y, w)\n")
    assert rebound == ["case.md:14:5: cannot differentiate here: `X` changed after it was used to compute the value"], rebound
    trained = compile_errors(base + "train(net, load_array(X, X[:, :1], 2), loss=squared_loss, optimizer=SGD(lr=0.1), epochs=1)\n"
                                    "g = grad(y, w)\n")
    assert trained == ["case.md:14:5: cannot differentiate here: `net` changed (trained or written) after it was used to "
                       "compute the value"], trained
    written = compile_errors(GRAD_BESIDE_A_MODEL + "print(net(X).shape)\ny = (net.out.weight.sum() * w).sum()\n"
                             "net.out.weight = zeros((1, 3))\ng = grad(y, w)\n")
    assert written == ["case.md:15:5: cannot differentiate here: `net` changed (trained or written) after it was used to "
                       "compute the value"], written
    renewed = compile_errors(GRAD_BESIDE_A_MODEL + "print(net(X).shape)\ny = (net.out.weight.sum() * w).sum()\n"
                             "net = Tiny()\nprint(net(X).shape)\ng = grad(y, w)\n")
    assert renewed == ["case.md:16:5: cannot differentiate here: `net` changed after it was used to compute the value"], renewed


def test_a_gradient_beside_a_model_call_agrees_on_every_target(tmp_path):
    """The model's first call in a statement only a gradient reads: JAX defined `compute_y` with `net.init` (and a
    key split) inside, an UnboundLocalError; the model's output is a constant factor, 3.0 + 1.5 = 4.5."""
    # a random draw anywhere makes JAX give the model's init its own split of the notebook's key
    agree(GRAD_BESIDE_A_MODEL + "noise = normal((2,))\ny = (net(X).sum() * w).sum()\ng = grad(y, w)\nprint(float(g[0]), float(g[1]), float(g[2]))\n",
          tmp_path, """
        4.5 4.5 4.5
    """)


def test_a_forward_branching_on_a_hyperparameter_is_typed_by_every_branch(tmp_path):
    """`if down: return body(X) + short(X)` then `return body(X) + X`: the forward's result was the last return's
    type alone, so `Block(8, 2, True)` was typed with the input's 4 channels and 14x14 size, and PyTorch built
    `nn.Linear(16, 3)` for the 8 features that arrive (check said ok; the notebook raised)."""
    agree("""
        model Block(c_out: int, stride: int = 1, down: bool = False):
            body = Conv2d(c_out, kernel=3, padding=1, stride=stride)
            short = Conv2d(c_out, kernel=1, stride=stride)
            def forward(X: f32[n, c, h, w]):
                if down:
                    return body(X) + short(X)
                return body(X) + X

        model Net():
            stem = Conv2d(4, kernel=1)
            stages = Sequential(Block(4), Block(8, 2, True))
            head = Sequential(AvgPool2d(7), Flatten(), Linear(3))
            def forward(X: f32[b, 1, 14, 14]):
                return head(stages(stem(X)))

        m = Net()
        Y = m(ones((2, 1, 14, 14)))
        print(Y.shape[0], Y.shape[1])
    """, tmp_path, """
        2 3
    """)
