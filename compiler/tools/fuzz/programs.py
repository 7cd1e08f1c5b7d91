"""Hypothesis strategies for random, well-typed d2lc programs (the Csmith/YARPGen idea for the DSL).

A program is a few statements that bind fresh names: input tensors, expressions over the ops
(elementwise, broadcasting, reductions, shapes, linear algebra, indexing), element writes, loops,
`if`s on data, chapter functions and their gradients, built-in layers called at top level, and
small models with every layer kind (NCHW images, so channels-last targets convert layouts). The
generator tracks every value's dtype and concrete shape, so each program type-checks by
construction; a program the compiler rejects is a bug of the generator or of the compiler.

Values that depend on random initialisation are avoided where the language lets a chapter state
initialisers (`init=constant(...)`), so that model outputs are compared by value; layers that
cannot be initialised deterministically are still generated (compared by dtype and shape).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

Shape = tuple[int, ...]

SMOOTH_UNARY = ["exp({})", "sin({})", "cos({})", "tanh({})", "sigmoid({})", "square({})", "({}) * ({})"]
ROUGH_UNARY = ["abs({})", "relu({})", "sign({})", "floor({})", "sqrt(abs({}) + 1.0)", "log(abs({}) + 1.0)",
               "clip({}, -1.0, 1.0)", "-({})"]
BINARY = ["({}) + ({})", "({}) - ({})", "({}) * ({})", "({}) / (square({}) + 1.0)", "maximum({}, {})", "minimum({}, {})",
          "where(({}) > ({}), {}, {})"]
SMOOTH_BINARY = BINARY[:4]
REDUCTIONS = ["sum", "mean", "max", "min", "prod", "var"]
SCALARS = [-2.0, -1.5, -1.0, -0.5, -0.25, 0.25, 0.5, 0.75, 1.0, 1.25, 2.0, 3.0]


@dataclass
class Env:
    """The float tensors bound so far (name -> shape) and the statements written."""

    prefix: str
    tensors: dict[str, Shape] = field(default_factory=dict)
    ints: dict[str, Shape] = field(default_factory=dict)  # int64 tensors with distinct values (argmax inputs)
    lines: list[str] = field(default_factory=list)
    extra_cells: list[str] = field(default_factory=list)  # model definitions, each its own cell
    counter: int = 0

    def fresh(self, base: str = "v") -> str:
        self.counter += 1
        return f"{self.prefix}{base}{self.counter}"


def _literal(values: list[float], shape: Shape) -> str:
    if not shape:
        return repr(values[0])
    step = len(values) // shape[0]
    return "[" + ", ".join(_literal(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"


def _size(shape: Shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# Sizes 1 to 3: size 1 exercises broadcasting, and few distinct shapes keep JAX's per-shape op compilation cached.
shapes = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)
nonscalar_shapes = st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple)


@st.composite
def tensor_input(draw, env: Env, shape: Shape | None = None) -> str:
    """A fresh float32 tensor of distinct values, written as a literal, or made by a creation op."""
    shape = draw(shapes) if shape is None else shape
    name = env.fresh("x")
    kind = draw(st.sampled_from(["literal", "literal", "arange", "full", "linspace"]))
    n = _size(shape)
    if kind == "arange" and len(shape) > 1:
        start = draw(st.sampled_from([-3.0, -1.0, 0.0, 0.5]))
        code = f"(arange({n}.0) * {draw(st.sampled_from([0.25, 0.5, -0.5]))} + {start})" + (f".reshape({', '.join(map(str, shape))})" if len(shape) != 1 else "")
    elif kind == "full" and shape:
        code = f"full(({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''}), {draw(st.sampled_from(SCALARS))})"
    elif kind == "linspace" and len(shape) == 1:
        code = f"linspace(-1.0, 2.0, {n})"
    else:
        values = draw(st.lists(st.integers(-12, 12), min_size=n, max_size=n, unique=n <= 25))
        code = f"tensor({_literal([v / 4 for v in values], shape)})"
    env.lines.append(f"{name} = {code}")
    env.tensors[name] = shape
    return name


def broadcast(a: Shape, b: Shape) -> Shape | None:
    out = []
    for x, y in zip(reversed((1,) * (len(b) - len(a)) + a), reversed((1,) * (len(a) - len(b)) + b)):
        if x != y and 1 not in (x, y):
            return None
        out.append(max(x, y))
    return tuple(reversed(out))


@st.composite
def operand(draw, env: Env, shape: Shape | None = None) -> tuple[str, Shape]:
    """An existing tensor (of `shape` if given, else any), a scalar, or a new input."""
    names = [n for n, s in env.tensors.items() if shape is None or s == shape]
    if names and draw(st.integers(0, 3)):
        n = draw(st.sampled_from(sorted(names)))
        return n, env.tensors[n]
    name = draw(tensor_input(env, shape))
    return name, env.tensors[name]


@st.composite
def expression(draw, env: Env, depth: int = 2, smooth: bool = False, shape: Shape | None = None) -> tuple[str, Shape]:
    """A float expression and its shape (broadcasting where shapes allow)."""
    if depth <= 0:
        return draw(operand(env, shape))
    choice = draw(st.integers(0, 10))
    if choice < 3:
        x, s = draw(expression(env, depth - 1, smooth, shape))
        pattern = draw(st.sampled_from(SMOOTH_UNARY if smooth else SMOOTH_UNARY + ROUGH_UNARY))
        return pattern.format(*([x] * pattern.count("{}"))), s
    if choice < 7:
        x, s = draw(expression(env, depth - 1, smooth, shape))
        other = draw(st.sampled_from([s, s[1:], s[-1:] if s else (), (1,) + s[1:] if s else (), ()]))
        if shape is not None:
            other = s
        if draw(st.integers(0, 4)) == 0:
            y, t = repr(draw(st.sampled_from(SCALARS))), ()
        else:
            y, t = draw(expression(env, depth - 1, smooth, other))
        out = broadcast(s, t)
        if out is None or (shape is not None and out != shape):
            return x, s
        pattern = draw(st.sampled_from(SMOOTH_BINARY if smooth else BINARY))
        if pattern.startswith("where"):
            return pattern.format(x, y, x, y), out
        return pattern.format(x, y), out
    if choice < 9 and shape is None:
        x, s = draw(expression(env, depth - 1, smooth))
        if len(s) >= 1:
            axis = draw(st.integers(-len(s), len(s) - 1))
            return f"softmax({x}, axis={axis})", s
        return x, s
    if choice < 10 and shape is None:
        x, s = draw(expression(env, depth - 1, smooth))
        if len(s) == 2:
            w, _ = draw(operand(env, (s[1], draw(st.integers(1, 3)))))
            return f"({x}) @ {w}", (s[0], env.tensors[w][1] if w in env.tensors else 1)
        return x, s
    return draw(operand(env, shape))


@st.composite
def reduction(draw, env: Env) -> None:
    x, s = draw(expression(env, 1))
    op = draw(st.sampled_from(REDUCTIONS))
    name = env.fresh()
    if not s or draw(st.booleans()):
        env.lines.append(f"{name} = {op}({x})" if draw(st.booleans()) else f"{name} = ({x}).{op}()")
        env.tensors[name] = ()
        return
    axis = draw(st.integers(-len(s), len(s) - 1))
    keep = draw(st.booleans())
    a = axis % len(s)
    out = s[:a] + ((1,) if keep else ()) + s[a + 1:]
    env.lines.append(f"{name} = ({x}).{op}(axis={axis}{', keepdims=True' if keep else ''})")
    env.tensors[name] = out


@st.composite
def arg_reduction(draw, env: Env) -> None:
    """argmax/argmin of distinct values (ties would leave the index to each framework)."""
    s = draw(nonscalar_shapes)
    n = _size(s)
    values = draw(st.permutations(list(range(n))))
    x = env.fresh("d")
    env.lines.append(f"{x} = tensor({_literal([v * 0.5 - 1.0 for v in values], s)})")
    env.tensors[x] = s
    name = env.fresh("i")
    op = draw(st.sampled_from(["argmax", "argmin"]))
    if draw(st.booleans()):
        axis = draw(st.integers(-len(s), len(s) - 1))
        keep = draw(st.booleans())
        a = axis % len(s)
        env.lines.append(f"{name} = {x}.{op}(axis={axis}{', keepdims=True' if keep else ''})")
        env.ints[name] = s[:a] + ((1,) if keep else ()) + s[a + 1:]
    else:
        env.lines.append(f"{name} = {op}({x})")
        env.ints[name] = ()


@st.composite
def shape_op(draw, env: Env) -> None:
    x, s = draw(operand(env))
    if x not in env.tensors:
        return
    name = env.fresh()
    n = _size(s)
    kind = draw(st.sampled_from(["reshape", "transpose", "T", "unsqueeze", "squeeze", "concat", "stack", "cumsum", "flatten"]))
    if kind == "reshape":
        divisors = [d for d in range(1, n + 1) if n % d == 0]
        d = draw(st.sampled_from(divisors))
        env.lines.append(f"{name} = {x}.reshape({d}, {n // d})" if draw(st.booleans()) else f"{name} = reshape({x}, ({d}, -1))")
        env.tensors[name] = (d, n // d)
    elif kind in ("transpose", "T") and len(s) >= 2:
        if kind == "T" and len(s) == 2:
            env.lines.append(f"{name} = {x}.T")
            env.tensors[name] = (s[1], s[0])
        else:
            perm = draw(st.permutations(list(range(len(s)))))
            env.lines.append(f"{name} = {x}.transpose({', '.join(map(str, perm))})")
            env.tensors[name] = tuple(s[p] for p in perm)
    elif kind == "unsqueeze":
        axis = draw(st.integers(0, len(s)))
        env.lines.append(f"{name} = {x}.unsqueeze({axis})" if draw(st.booleans()) else f"{name} = unsqueeze({x}, axis={axis})")
        env.tensors[name] = s[:axis] + (1,) + s[axis:]
    elif kind == "squeeze" and 1 in s:
        axis = s.index(1)
        env.lines.append(f"{name} = {x}.squeeze(axis={axis})")
        env.tensors[name] = s[:axis] + s[axis + 1:]
    elif kind in ("concat", "stack") and s:
        y, _ = draw(operand(env, s))
        axis = draw(st.integers(0, len(s) - (1 if kind == "concat" else 0)))
        env.lines.append(f"{name} = {kind}([{x}, {y}], axis={axis})")
        if kind == "concat":
            env.tensors[name] = s[:axis] + (2 * s[axis],) + s[axis + 1:]
        else:
            env.tensors[name] = s[:axis] + (2,) + s[axis:]
    elif kind == "cumsum" and s:
        axis = draw(st.integers(0, len(s) - 1))
        env.lines.append(f"{name} = cumsum({x}, axis={axis})")
        env.tensors[name] = s
    else:
        env.lines.append(f"{name} = {x}.reshape(-1)")
        env.tensors[name] = (n,)


@st.composite
def index_item(draw, size: int) -> tuple[str, int | None]:
    """One index and the size it leaves (None: the axis is dropped)."""
    kind = draw(st.sampled_from(["int", "neg", "slice", "open", "step", "all"]))
    if kind == "int":
        return str(draw(st.integers(0, size - 1))), None
    if kind == "neg":
        return str(-draw(st.integers(1, size))), None
    if kind == "slice":
        a = draw(st.integers(0, size - 1))
        b = draw(st.integers(a + 1, size))
        return f"{a}:{b}", b - a
    if kind == "open":
        a = draw(st.integers(0, size - 1))
        return f"{a}:", size - a
    if kind == "step":
        step = draw(st.integers(1, 3))
        return f"::{step}", len(range(0, size, step))
    return ":", size


@st.composite
def index_read(draw, env: Env) -> None:
    s = draw(nonscalar_shapes)
    x, _ = draw(operand(env, s))
    items, out = [], []
    for d in s[:draw(st.integers(1, len(s)))]:
        code, left = draw(index_item(d))
        items.append(code)
        if left is not None:
            out.append(left)
    out.extend(s[len(items):])
    name = env.fresh()
    env.lines.append(f"{name} = {x}[{', '.join(items)}]")
    env.tensors[name] = tuple(out)


@st.composite
def element_write(draw, env: Env) -> None:
    """A copy written in place: an element, a row, or a slice, from a scalar or a matching tensor."""
    s = draw(nonscalar_shapes)
    x, _ = draw(operand(env, s))
    name = env.fresh("w")
    env.lines.append(f"{name} = {x}.clone()" if draw(st.booleans()) else f"{name} = {x} * 1.0")
    items, left = [], []
    for d in s[:draw(st.integers(1, len(s)))]:
        code, size = draw(index_item(d))
        if code.startswith("::") and len(s) > 0 and draw(st.booleans()):
            code, size = ":", d
        items.append(code)
        if size is not None:
            left.append(size)
    left.extend(s[len(items):])
    if draw(st.booleans()) or not left:
        value = repr(draw(st.sampled_from(SCALARS)))
    else:
        value, _ = draw(expression(env, 1, shape=tuple(left)))
    env.lines.append(f"{name}[{', '.join(items)}] = {value}")
    env.tensors[name] = s


@st.composite
def loop(draw, env: Env) -> None:
    x, s = draw(operand(env))
    acc = env.fresh("acc")
    k = draw(st.integers(1, 4))
    shape = ", ".join(map(str, s)) + ("," if len(s) == 1 else "")
    env.lines.append(f"{acc} = zeros(({shape}))" if s else f"{acc} = {x} * 0.0")
    body, _ = draw(expression(env, 1, shape=s))
    env.lines.append(f"for {env.prefix}i in range({k}):")
    if draw(st.booleans()):
        env.lines.append(f"    {acc} = {acc} + {body} * {env.prefix}i")
    else:
        env.lines.append(f"    if {env.prefix}i % 2 == 0:")
        env.lines.append(f"        {acc} = {acc} - {body}")
        env.lines.append("    else:")
        env.lines.append(f"        {acc} = {acc} * 0.5 + {x}")
    env.tensors[acc] = s


@st.composite
def branch(draw, env: Env) -> None:
    x, s = draw(operand(env))
    a, _ = draw(expression(env, 1, shape=s))
    b, _ = draw(expression(env, 1, shape=s))
    name = env.fresh("c")
    cond = draw(st.sampled_from([f"({x}).sum() > 0", f"({x}).mean().item() < 0.5", f"({x}).max() >= 1.0"]))
    env.lines += [f"if {cond}:", f"    {name} = {a}", "else:", f"    {name} = {b}"]
    env.tensors[name] = s


def _annotation(shape: Shape, letters: str = "nmk") -> str:
    return "f32[" + ", ".join(letters[i] if i < len(letters) else str(d) for i, d in enumerate(shape)) + "]"


@st.composite
def function(draw, env: Env) -> None:
    """A chapter function over one input, called at top level; sometimes differentiated."""
    s = draw(st.lists(st.integers(1, 4), min_size=1, max_size=2).map(tuple))
    fname = env.fresh("f")
    inner = Env(prefix="", tensors={"X": s})
    smooth = draw(st.booleans())
    body, out = draw(expression(inner, 2, smooth=smooth, shape=s))
    # the body may only use X and constants: drop helper inputs by building them inside the function
    setup = [ln for ln in inner.lines]
    reduce_out = draw(st.booleans())
    result = f"({body}).sum()" if reduce_out else body
    ret = "f32[]" if reduce_out else _annotation(s)
    env.lines.append(f"def {fname}(X: {_annotation(s)}) -> {ret}:")
    env.lines += ["    " + ln for ln in setup]
    env.lines.append(f"    return {result}")
    x, _ = draw(operand(env, s))
    name = env.fresh()
    env.lines.append(f"{name} = {fname}({x})")
    env.tensors[name] = () if reduce_out else s
    if smooth and reduce_out and draw(st.booleans()):
        g = env.fresh("g")
        env.lines.append(f"{g} = grad({fname})({x})")
        env.tensors[g] = s


@st.composite
def gradient(draw, env: Env) -> None:
    """grad(y, x) of a smooth expression of a named input."""
    x = draw(tensor_input(env))
    s = env.tensors[x]
    scratch = Env(prefix=env.prefix + "q", tensors={x: s}, counter=env.counter)
    body, _ = draw(expression(scratch, 2, smooth=True, shape=s))
    env.lines += scratch.lines
    env.tensors.update(scratch.tensors)
    env.counter = scratch.counter + 1
    y = env.fresh("y")
    env.lines.append(f"{y} = ({body} * {x}).sum()")
    g = env.fresh("g")
    env.lines.append(f"{g} = grad({y}, {x})")
    env.tensors[y] = ()
    env.tensors[g] = s


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
        layers, _, _ = draw(conv_stack(c, size))
        layers.append("Flatten()")
        in_shape = (b, c, size, size)
        ann = f"f32[b, {c}, {size}, {size}]"
    else:
        f = draw(st.integers(1, 5))
        layers = []
        in_shape = (b, f)
        ann = f"f32[b, {f}]"
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["ReLU", "Sigmoid", "Tanh", "LayerNorm", "BatchNorm1d", "Dropout"]))
        layers.append(f"Linear({hidden}, init={draw(st.sampled_from(INITS))})")
        layers.append(f"LayerNorm({hidden})" if kind == "LayerNorm" else ("Dropout(0.25)" if kind == "Dropout" else f"{kind}()"))
    layers.append(f"Linear({draw(st.integers(1, 3))}, init={draw(st.sampled_from(INITS))}, bias_init={draw(st.sampled_from(INITS))})")
    n = _size(in_shape)
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
    env.lines.append(f"{x} = tensor({_literal(tokens, (b, t))})")
    inst, out = env.fresh("net"), env.fresh()
    env.lines += [f"{inst} = {mname}()", f"{out} = {inst}({x})"]


STATEMENTS = {
    "expression": lambda env: expression(env, 3).map(lambda r: _bind(env, *r)),
    "reduction": reduction, "arg_reduction": arg_reduction, "shape_op": shape_op, "index_read": index_read,
    "element_write": element_write, "loop": loop, "branch": branch, "function": function, "gradient": gradient,
    "model": model, "sequence_model": sequence_model, "top_level_layer": top_level_layer,
}


def _bind(env: Env, code: str, shape: Shape) -> None:
    name = env.fresh()
    env.lines.append(f"{name} = {code}")
    env.tensors[name] = shape


@dataclass
class Program:
    """One generated program: its cells (code only) and which statement kinds it used."""

    cells: list[str]
    kinds: list[str]

    def chapter(self, title: str = "Fuzz") -> str:
        return f"# {title}\n\n" + "".join(f"```d2l\n{c}\n```\n\n" for c in self.cells)


@st.composite
def programs(draw, prefix: str = "p_", kinds: tuple[str, ...] = tuple(STATEMENTS), max_statements: int = 5) -> Program:
    env = Env(prefix=prefix)
    used = []
    draw(tensor_input(env))
    for _ in range(draw(st.integers(1, max_statements))):
        kind = draw(st.sampled_from(kinds))
        used.append(kind)
        strategy = STATEMENTS[kind](env)
        draw(strategy)
    if env.tensors and draw(st.booleans()):
        env.lines.append(f"print({draw(st.sampled_from(sorted(env.tensors)))})")
    return Program(env.extra_cells + ["\n".join(env.lines)], used)
