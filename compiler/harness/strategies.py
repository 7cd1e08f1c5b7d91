"""Hypothesis strategies for a function's inputs, drawn from its declared parameter types.

Every shape symbol is drawn once per example (sizes 1..5) and shared by all parameters, so
`X: f32[n, k]` and `w: f32[k]` always fit together. Float values sit on a "generic" grid: odd
multiples of 1/128 plus a small per-parameter jitter. They are never 0, never an integer and never
a simple fraction, so no example lands on a kink (relu/abs at 0, floor at integers, clip bounds)
where frameworks may legitimately disagree about gradients; values never tie, neither within a
tensor nor across parameters; hypothesis still shrinks them, through the grid index, towards
small magnitudes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from d2lc.core import ir
from d2lc.core.types import DType, ScalarType, SeqType, TensorType
from d2lc.harness.analysis import Domain

MIN_DIM, MAX_DIM = 1, 5
FLOAT_RANGE = (-3.0, 3.0)
POSITIVE_RANGE = (0.1, 5.0)
INT_RANGE = (-5, 5)
POSITIVE_INT_RANGE = (1, 5)
DISTINCT_INT_RANGE = (-64, 64)
COUNT_RANGE = (0, 4)
GRID = 1 / 64  # values are (k + 1/2) * GRID + jitter
_GOLDEN = 0.6180339887498949


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: its name, declared type, value constraints, and a salt for its jitter."""

    name: str
    type: Any  # TensorType | ScalarType
    domain: Domain = field(default_factory=Domain)
    salt: float = 0.0
    choices: tuple = ()  # the values a parameter the harness cannot draw freely takes (a str's, a tuple's default)


@dataclass
class Example:
    """One drawn call: the size of every shape symbol and every argument by name."""

    dims: dict[str, int]
    args: dict[str, Any]

    def ordered(self, names: list[str]) -> list[Any]:
        return [self.args[n] for n in names]


def param_specs(f: ir.FuncDef, domains: dict[str, Domain]) -> list[ParamSpec]:
    return [ParamSpec(p.name, p.type, domains.get(p.name, Domain()), salt=(i + 1) * 0.3819660113, choices=_choices(f, p))
            for i, p in enumerate(f.params)]


def _choices(f: ir.FuncDef, p: ir.Param) -> tuple:
    """A str parameter takes its default and every string the body compares it with (`mode == "sum"`); a tuple
    parameter (static structure) takes its default."""
    default = ir.static_value(p.default)
    if isinstance(p.type, ScalarType) and p.type.kind == "str":
        seen = [default] if isinstance(default, str) else []
        for e in ir.walk_exprs(f.body):
            if isinstance(e, ir.Op) and e.op in ("py_eq", "py_ne"):
                x, y = e.args["x"], e.args["y"]
                for a, b in ((x, y), (y, x)):
                    if isinstance(a, ir.Var) and a.name == p.name and isinstance(b, ir.Const) and isinstance(b.value, str) \
                            and b.value not in seen:
                        seen.append(b.value)
        return tuple(seen)
    if isinstance(p.type, SeqType) and isinstance(default, tuple):
        return (default,)
    return ()


def symbols(specs: list[ParamSpec]) -> list[str]:
    """Shape symbols in order of first appearance."""
    out: list[str] = []
    for s in specs:
        if isinstance(s.type, TensorType):
            out.extend(d for d in s.type.shape if isinstance(d, str) and d not in out)
    return out


def grid_values(k: np.ndarray, salt: float, dtype: np.dtype, scale: float = 1.0) -> np.ndarray:
    """Grid indices -> generic float values (see the module docstring); `scale` refines the grid."""
    k = np.asarray(k, dtype=np.float64)
    step = GRID / scale
    jitter = np.mod(k * _GOLDEN + salt, 1.0) * (step / 16)
    return ((k + 0.5) * step + jitter).astype(dtype)


def _grid_bounds(lo: float, hi: float, scale: float = 1.0) -> tuple[int, int]:
    step = GRID / scale
    return math.ceil(lo / step - 0.5), math.floor(hi / step - 0.5)


def _int_range(spec: ParamSpec, dims: dict[str, int]) -> tuple[int, int]:
    d = spec.domain
    if d.index_bounds:
        sizes = [b if isinstance(b, int) else dims.get(b, MIN_DIM) for b in d.index_bounds]
        return 0, max(min(sizes), 1) - 1
    if d.count:
        return COUNT_RANGE
    if d.positive:
        return POSITIVE_INT_RANGE
    if d.nonnegative:
        return 0, INT_RANGE[1]
    if d.distinct:
        return DISTINCT_INT_RANGE
    return INT_RANGE


def shape_of(t: TensorType, dims: dict[str, int]) -> tuple[int, ...]:
    return tuple(dims[d] if isinstance(d, str) else (d if d is not None else MIN_DIM) for d in t.shape)


def tensor_strategy(spec: ParamSpec, dims: dict[str, int]) -> st.SearchStrategy[np.ndarray]:
    t: TensorType = spec.type
    shape = shape_of(t, dims)
    n = int(np.prod(shape, dtype=np.int64))
    if t.dtype == DType.bool:
        return hnp.arrays(np.bool_, shape, elements=st.booleans()).map(lambda a: np.asarray(a).reshape(shape))
    if t.dtype.is_int:
        lo, hi = _int_range(spec, dims)
        unique = spec.domain.distinct and n <= hi - lo + 1
        return hnp.arrays(np.int64, shape, elements=st.integers(lo, hi), unique=unique).map(
            lambda a: np.asarray(a, dtype=t.dtype.value).reshape(shape))
    lo, hi = POSITIVE_RANGE if spec.domain.positive else FLOAT_RANGE
    scale = 1.0
    klo, khi = _grid_bounds(lo, hi)
    while khi - klo + 1 < 4 * n:
        scale *= 2  # a finer grid, so that n distinct values are easy to find
        klo, khi = _grid_bounds(lo, hi, scale)
    dtype = np.dtype(t.dtype.value)
    # Float tensors always hold distinct values: shrinking would otherwise drive them to a constant,
    # where X - mean(X) is pure rounding noise and every normalisation is ill-conditioned.
    return hnp.arrays(np.int64, shape, elements=st.integers(klo, khi), unique=True).map(
        lambda k: np.asarray(grid_values(k, spec.salt, np.float64, scale), dtype=dtype).reshape(shape))


def scalar_strategy(spec: ParamSpec, dims: dict[str, int]) -> st.SearchStrategy[Any]:
    kind = spec.type.kind
    if kind == "bool":
        return st.booleans()
    if kind == "int":
        lo, hi = _int_range(spec, dims)
        return st.integers(lo, hi)
    lo, hi = POSITIVE_RANGE if spec.domain.positive else FLOAT_RANGE
    klo, khi = _grid_bounds(lo, hi)
    return st.integers(klo, khi).map(lambda k: float(grid_values(np.array(k), spec.salt, np.float64)))


def value_strategy(spec: ParamSpec, dims: dict[str, int]) -> st.SearchStrategy[Any]:
    if spec.choices:
        return st.sampled_from(spec.choices)
    if isinstance(spec.type, TensorType):
        return tensor_strategy(spec, dims)
    if isinstance(spec.type, ScalarType) and spec.type.kind in ("int", "float", "bool"):
        return scalar_strategy(spec, dims)
    raise TypeError(f"cannot draw a value for parameter `{spec.name}` of type {spec.type}")


def drawable(specs: list[ParamSpec]) -> bool:
    return all(isinstance(s.type, TensorType) or isinstance(s.type, ScalarType) and s.type.kind in ("int", "float", "bool")
               or s.choices for s in specs)


DISTINCT_SIZES = (2, 3, 4, 5, 2, 3, 4, 5)  # a function's first four symbols all differ, none is 1


def shape_pool(seed: int, size: int = 4, length: int = 8) -> list[tuple[int, ...]]:
    """Size vectors shared by every function of a run: distinct sizes, all ones, then seeded draws from 1..5.

    A function's symbols, in order of first appearance, take the first entries of one vector, so
    all functions see the same few shapes. JAX compiles every eager op once per shape; sharing
    shapes across functions is what keeps a run's compile time small. The first vector is the one
    hypothesis tries first (its simplest choice): sizes that all differ, so that a transposed or
    misplaced axis changes the result's shape in every run, however few examples it draws (with
    random sizes an [n, 1] result put as [1, n] went unnoticed whenever n came out 1).
    """
    rng = np.random.default_rng(seed)
    pool = [DISTINCT_SIZES[:length] + (MIN_DIM + 1,) * (length - len(DISTINCT_SIZES)), (MIN_DIM,) * length]
    while len(pool) < size:
        v = tuple(int(x) for x in rng.integers(MIN_DIM, MAX_DIM + 1, size=length))
        if v not in pool:
            pool.append(v)
    return pool


def examples(specs: list[ParamSpec], pool: list[tuple[int, ...]] | None = None) -> st.SearchStrategy[Example]:
    """Whole calls: symbols first (each drawn once), then every argument from those sizes.

    Without a pool every symbol is drawn freely from 1..5; with one, the sizes are one of its vectors.
    """
    syms = symbols(specs)
    if pool is not None and any(len(v) < len(syms) for v in pool):
        pool = None

    @st.composite
    def draw(draw_fn) -> Example:
        if pool is None:
            dims = {s: draw_fn(st.integers(MIN_DIM, MAX_DIM)) for s in syms}
        else:
            vector = draw_fn(st.sampled_from(pool)) if syms else pool[0]
            dims = dict(zip(syms, vector))
        args = {s.name: draw_fn(value_strategy(s, dims)) for s in specs}
        return Example(dims, args)

    return draw()
