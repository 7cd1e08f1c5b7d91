"""The generator's state (the tensors bound so far) and its inputs: literals, creation ops, operands."""
from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import strategies as st

Shape = tuple[int, ...]

# sin and cos of a large argument are ill-conditioned (one float32 ulp of 1e3 is 6e-5, of 1e8 more than the
# period): their arguments are bounded, so the comparison sees the op, not each framework's rounding
SMOOTH_UNARY = ["exp({})", "sin(3.0 * tanh({}))", "cos(3.0 * tanh({}))", "tanh({})", "sigmoid({})", "square({})", "({}) * ({})"]
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


def literal(values: list[float], shape: Shape) -> str:
    if not shape:
        return repr(values[0])
    step = len(values) // shape[0]
    return "[" + ", ".join(literal(values[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])) + "]"


def numel(shape: Shape) -> int:
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
    n = numel(shape)
    if kind == "arange" and len(shape) > 1:
        start = draw(st.sampled_from([-3.0, -1.0, 0.0, 0.5]))
        code = f"(arange({n}.0) * {draw(st.sampled_from([0.25, 0.5, -0.5]))} + {start})" + (f".reshape({', '.join(map(str, shape))})" if len(shape) != 1 else "")
    elif kind == "full" and shape:
        code = f"full(({', '.join(map(str, shape))}{',' if len(shape) == 1 else ''}), {draw(st.sampled_from(SCALARS))})"
    elif kind == "linspace" and len(shape) == 1:
        code = f"linspace(-1.0, 2.0, {n})"
    else:
        values = draw(st.lists(st.integers(-12, 12), min_size=n, max_size=n, unique=n <= 25))
        code = f"tensor({literal([v / 4 for v in values], shape)})"
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
