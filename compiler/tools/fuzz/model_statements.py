"""Statements that define and call models and layers: image stacks of every layer kind (NCHW, so channels-last
targets convert layouts), built-in layers called at top level, and sequence models over token ids."""
from __future__ import annotations

from hypothesis import strategies as st

from d2lc.tools.fuzz.values import Env, literal, numel, tensor_input

INITS = ["constant(0.5)", "constant(-0.25)", "ones", "zeros"]


@st.composite
def conv_stack(draw, channels: int, size: int) -> tuple[list[str], int, int]:
    """Image layers over [b, channels, size, size] and the channels and size they leave."""
    layers: list[str] = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["Conv2d", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm2d", "ReLU", "Sigmoid", "Tanh", "Dropout"]))
        if kind == "Conv2d":
            k = draw(st.integers(1, min(3, size)))
            pad = draw(st.integers(0, (k - 1) // 2 + (1 if k > 1 else 0)))
            pad = min(pad, k // 2)
            stride = draw(st.integers(1, 2))
            out = draw(st.integers(1, 3))
            init = draw(st.sampled_from(INITS + [None]))
            args = f"{out}, kernel={k}" + (f", stride={stride}" if stride > 1 else "") + (f", padding={pad}" if pad else "")
            if init is not None:
                args += f", init={init}" + (f", bias_init={draw(st.sampled_from(INITS))}" if draw(st.booleans()) else "")
            layers.append(f"Conv2d({args})")
            size = (size + 2 * pad - k) // stride + 1
            channels = out
        elif kind in ("MaxPool2d", "AvgPool2d"):
            if size < 2:
                continue
            k = draw(st.integers(1, min(3, size)))
            stride = draw(st.sampled_from([None, 1, 2]))
            layers.append(f"{kind}({k}" + (f", stride={stride}" if stride else "") + ")")
            size = (size - k) // (stride or k) + 1
        elif kind == "Dropout":
            layers.append("Dropout(0.5)")
        else:
            layers.append(f"{kind}()")
    return layers, channels, size


@st.composite
def model(draw, env: Env) -> None:
    """A model over NCHW images or feature vectors, built with stated initialisers, called on an input."""
    mname = env.fresh("M").replace("_", "").capitalize()
    x_name = env.fresh("img")
    image = draw(st.booleans())
    hidden = draw(st.integers(1, 4))
    b = draw(st.integers(1, 3))
    if image:
        c, size = draw(st.integers(1, 3)), draw(st.integers(3, 6))
        layers, out_c, out_size = draw(conv_stack(c, size))
        # a stated (constant) conv kernel gives every output channel the same values, and a saturating
        # activation (sigmoid of 5..9 is 0.993..0.9999) leaves features whose spread is near LayerNorm's eps
        distinct = not any(layer.startswith(("Conv2d", "Sigmoid", "Tanh")) for layer in layers)
        layers.append("Flatten()")
        features = out_c * out_size * out_size
        in_shape = (b, c, size, size)
        ann = f"f32[b, {c}, {size}, {size}]"
    else:
        f = draw(st.integers(1, 5))
        layers, distinct, features = [], True, f
        in_shape = (b, f)
        ann = f"f32[b, {f}]"
    # LayerNorm only where the features differ: after a constant-initialised Linear they are all equal,
    # and normalising equal values divides rounding noise by sqrt(eps) (ill-conditioned on every target)
    if distinct and draw(st.booleans()):
        layers.append(f"LayerNorm({features})")
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["ReLU", "Sigmoid", "Tanh", "BatchNorm1d", "Dropout"]))
        layers.append(f"Linear({hidden}, init={draw(st.sampled_from(INITS))})")
        layers.append("Dropout(0.25)" if kind == "Dropout" else f"{kind}()")
    layers.append(f"Linear({draw(st.integers(1, 3))}, init={draw(st.sampled_from(INITS))}, bias_init={draw(st.sampled_from(INITS))})")
    n = numel(in_shape)
    cell = [f"model {mname}():", f"    net = Sequential({', '.join(layers)})", f"    def forward(X: {ann}):", "        return net(X)"]
    env.extra_cells.append("\n".join(cell))
    env.lines.append(f"{x_name} = (arange({n}.0) * 0.1 - 0.5).reshape({', '.join(map(str, in_shape))})")
    inst = env.fresh("net")
    out = env.fresh()
    env.lines.append(f"{inst} = {mname}()")
    env.lines.append(f"{out} = {inst}({x_name})")


@st.composite
def top_level_layer(draw, env: Env) -> None:
    """A built-in layer made and called at top level (on images: the layout conversion is the compiler's).

    No stated initialisers: PyTorch builds such a layer lazily, so the language allows them only in models."""
    kind = draw(st.sampled_from(["MaxPool2d", "AvgPool2d", "ReLU", "Linear", "Conv2d"]))
    name = env.fresh("layer")
    out = env.fresh()
    if kind == "Linear":
        x = draw(tensor_input(env, (draw(st.integers(1, 3)), draw(st.integers(1, 4)))))
        env.lines.append(f"{name} = Linear({draw(st.integers(1, 3))})")
    else:
        size = draw(st.integers(2, 5))
        c = draw(st.integers(1, 2))
        x = env.fresh("img")
        env.lines.append(f"{x} = (arange({c * size * size}.0) * 0.25).reshape(1, {c}, {size}, {size})")
        k = draw(st.integers(1, 2))
        args = f"{k}" if kind != "ReLU" else ""
        if kind == "Conv2d":
            args = f"{draw(st.integers(1, 2))}, kernel={k}"
        env.lines.append(f"{name} = {kind}({args})")
    env.lines.append(f"{out} = {name}({x})")


@st.composite
def sequence_model(draw, env: Env) -> None:
    """Embedding, a recurrent layer (its parameters start random: compared by dtype and shape), LayerNorm, Linear."""
    mname = env.fresh("M").replace("_", "").capitalize()
    vocab, dim, hidden = draw(st.integers(3, 6)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    b, t = draw(st.integers(1, 2)), draw(st.integers(1, 4))
    rnn = draw(st.sampled_from(["RNN", "GRU", "LSTM", None]))
    members = [f"    embed = Embedding({vocab}, {dim}, init={draw(st.sampled_from(INITS))})"]
    body = "embed(X)"
    if rnn:
        members.append(f"    rnn = {rnn}({dim}, {hidden})")
        body = f"rnn({body})"
    if draw(st.booleans()):
        members.append(f"    norm = LayerNorm({hidden if rnn else dim})")
        body = f"norm({body})"
    members.append(f"    head = Linear({draw(st.integers(1, 3))}, init={draw(st.sampled_from(INITS))})")
    env.extra_cells.append("\n".join([f"model {mname}():", *members, "    def forward(X: i64[b, t]):",
                                       f"        return head({body})"]))
    tokens = draw(st.lists(st.integers(0, vocab - 1), min_size=b * t, max_size=b * t))
    x = env.fresh("tok")
    env.lines.append(f"{x} = tensor({literal(tokens, (b, t))})")
    inst, out = env.fresh("net"), env.fresh()
    env.lines += [f"{inst} = {mname}()", f"{out} = {inst}({x})"]
