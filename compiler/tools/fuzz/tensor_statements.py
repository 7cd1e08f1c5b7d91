"""Statements over tensors: expressions, reductions, shape ops, indexing, element writes, loops, `if`s,
chapter functions and gradients. Each binds fresh names in the `Env` and records their shapes."""
from __future__ import annotations

from hypothesis import strategies as st

from d2lc.tools.fuzz.values import BINARY, REDUCTIONS, ROUGH_UNARY, SCALARS, SMOOTH_BINARY, SMOOTH_UNARY, Env, Shape, broadcast, literal, nonscalar_shapes, numel, operand, tensor_input


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
    n = numel(s)
    values = draw(st.permutations(list(range(n))))
    x = env.fresh("d")
    env.lines.append(f"{x} = tensor({literal([v * 0.5 - 1.0 for v in values], s)})")
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
    n = numel(s)
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
    # thresholds off the grid of the generated values (quarters, softmax's 1/n, tanh's odd symmetry): a value
    # that ties mathematically with its threshold falls on either side by rounding, differently per framework
    cond = draw(st.sampled_from([f"({x}).sum() > 0.0371", f"({x}).mean().item() < 0.4871", f"({x}).max() >= 1.0129"]))
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
    differentiated = smooth and reduce_out and draw(st.booleans())
    # a differentiated result must depend on X (the language rejects the gradient of a constant)
    result = (f"({body} * X).sum()" if differentiated else f"({body}).sum()") if reduce_out else body
    ret = "f32[]" if reduce_out else _annotation(s)
    env.lines.append(f"def {fname}(X: {_annotation(s)}) -> {ret}:")
    env.lines += ["    " + ln for ln in setup]
    env.lines.append(f"    return {result}")
    x, _ = draw(operand(env, s))
    name = env.fresh()
    env.lines.append(f"{name} = {fname}({x})")
    env.tensors[name] = () if reduce_out else s
    if differentiated:
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
