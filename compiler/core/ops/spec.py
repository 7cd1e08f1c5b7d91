"""What an op's spec says: its parameters, its shape/dtype rule, how the DSL writes it, and the facts
every later stage reads from it (views, literal handling, the harness's input domain, gradients)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from d2lc.core.types import ScalarType, ShapeError, TensorType, Type, scalar_dtype

REQUIRED = object()


@dataclass(frozen=True)
class P:
    """A parameter of an op: its name, kind, and default (REQUIRED if it has none)."""

    name: str
    kind: str  # tensor | tensors | data | scalar | shape | axis | axes | dtype | flag | device
    default: Any = REQUIRED


@dataclass
class OpSpec:
    """Everything about one op. Side tables (views, comparisons, harness domains) are read from here."""

    name: str
    params: tuple[P, ...]
    infer: Callable[["Ctx"], Type]
    doc: str
    differentiable: bool = True  # a gradient flows through it to its inputs
    category: str = "tensor"
    varargs: str | None = None  # a param collecting extra positional args (x.reshape(3, 4))
    # -- how the DSL writes it
    function: bool = True  # a free function `name(...)`
    method: bool = False  # also a method `x.name(...)`
    operator: str | None = None  # the Python operator writing it: `x + y`, `-x` (a prefix when it takes one tensor)
    # -- how backends emit it
    array_name: str | None = None  # NumPy's name, shared by most array libraries: the base spelling `ns.NAME(tensors)`
    view: bool = False  # its result may share memory with its first argument
    number_operands: bool = False  # Python numbers among its arguments are operands: floats in a float computation
    promotes_operands: bool = False  # computes in its operands' promoted dtype, not its result's (comparisons, where)
    # -- what the harness reads
    passes_values: bool = True  # False: only shapes, indices or truth values come out, not its inputs' values
    positive: tuple[str, ...] = ()  # params whose values must be > 0
    distinct: tuple[str, ...] = ()  # params whose values must have no ties (so every framework picks one element)
    # (index param, indexed param, axis): the index's values lie in [0, size of that axis) (cross_entropy's labels
    # index the logits' classes); the axis may name the op's axis param, and a scalar indexed param is the size itself
    index_of: tuple[str, str, int | str | None] | None = None
    nondiff: tuple[str, ...] = ()  # params no gradient flows to
    # -- diagnostics
    shape_hint: str | None = None  # how to fix a shape mismatch in its arguments


@dataclass
class Ctx:
    """What an inference rule sees: argument types and the static values that could be known."""

    op: str
    types: dict[str, Type | None]
    static: dict[str, Any] = field(default_factory=dict)

    def t(self, name: str) -> TensorType:
        t = self.types[name]
        if isinstance(t, ScalarType):
            return TensorType(scalar_dtype(t), ())
        assert isinstance(t, TensorType), t
        return t


def shape_error(message: str, expected: str | None = None, hint: str | None = None) -> ShapeError:
    """A ShapeError that also carries a hint for fixing it."""
    exc = ShapeError(message, expected)
    exc.hint = hint  # type: ignore[attr-defined]
    return exc


class OpTypeError(Exception):
    def __init__(self, message: str, expected: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.expected = expected
        self.hint = hint
