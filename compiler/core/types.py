"""Static types of IR values: dtypes, symbolic shapes, and the promotion and broadcasting rules."""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Union


class DType(Enum):
    bool = "bool"
    int32 = "int32"
    int64 = "int64"
    float32 = "float32"
    float64 = "float64"

    @property
    def is_float(self) -> bool:
        return self in (DType.float32, DType.float64)

    @property
    def is_int(self) -> bool:
        return self in (DType.int32, DType.int64)

    @property
    def is_64bit(self) -> bool:
        return self in (DType.int64, DType.float64)


# Spellings accepted in the DSL (`dtype=float32`, `X: f32[n]`).
DTYPE_NAMES = {
    "float32": DType.float32, "float64": DType.float64, "int32": DType.int32, "int64": DType.int64,
    "bool": DType.bool, "f32": DType.float32, "f64": DType.float64, "i32": DType.int32, "i64": DType.int64,
}
DEFAULT_FLOAT = DType.float32
DEFAULT_INT = DType.int64
_RANK = [DType.bool, DType.int32, DType.int64, DType.float32, DType.float64]

Dim = Union[int, str, None]  # a known size, a symbol shared across values, or unknown
Shape = tuple[Dim, ...]


@dataclass(frozen=True)
class TensorType:
    dtype: DType
    shape: Shape

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.dtype.value}[{dims}]"


@dataclass(frozen=True)
class ScalarType:
    """A Python scalar: 'int', 'float', 'bool', 'str' or 'none'."""

    kind: str

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True)
class SeqType:
    """A tuple or list of values (shapes, lists of tensors)."""

    items: tuple["Type", ...]
    kind: str = "tuple"

    def __str__(self) -> str:
        return f"{self.kind}[{', '.join(map(str, self.items))}]"  # as annotated: tuple[float32[n], int]


@dataclass(frozen=True)
class FuncType:
    """A function value: a `def` (its name) or a lambda (`lambda@L:C`); a loop variable over several functions has
    the name "function" and the functions it takes in turn as `options`."""
    name: str
    options: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"function {self.name}"

    def candidates(self) -> tuple[str, ...]:
        """The functions this value may hold."""
        return self.options or (self.name,)


@dataclass(frozen=True)
class AnyType:
    """Stands for a value whose type is unknown after an error; suppresses follow-on errors."""

    def __str__(self) -> str:
        return "?"


@dataclass(frozen=True)
class TableType:
    """A table read with pandas (a DataFrame on every target), or one of its columns (`column`: a Series, such as a
    table's column means). Its rows and columns are known only at run time; `tensor(df, dtype=...)` converts it."""

    column: bool = False

    def __str__(self) -> str:
        return "table column" if self.column else "table"


Type = Union[TensorType, ScalarType, SeqType, FuncType, AnyType, TableType]
INT = ScalarType("int")
FLOAT = ScalarType("float")
BOOL = ScalarType("bool")
STR = ScalarType("str")
NONE = ScalarType("none")
ANY = AnyType()


def scalar_dtype(t: ScalarType) -> DType:
    return {"int": DEFAULT_INT, "float": DEFAULT_FLOAT, "bool": DType.bool}[t.kind]


def promote(a: Type, b: Type) -> DType:
    """Result dtype of a binary op. Python scalars are weak: they never widen a tensor."""
    if isinstance(a, TensorType) and isinstance(b, TensorType):
        if a.dtype.is_int and b.dtype.is_float or a.dtype.is_float and b.dtype.is_int:
            return a.dtype if a.dtype.is_float else b.dtype
        return max(a.dtype, b.dtype, key=_RANK.index)
    tensor, scalar = (a, b) if isinstance(a, TensorType) else (b, a)
    assert isinstance(tensor, TensorType) and isinstance(scalar, ScalarType)
    if scalar.kind == "float" and not tensor.dtype.is_float:
        return DEFAULT_FLOAT
    if scalar.kind == "int" and tensor.dtype == DType.bool:
        return DEFAULT_INT
    return tensor.dtype


class ShapeError(Exception):
    """Shapes that cannot work together; `expected` explains what would, `hint` how to get there (if known)."""

    def __init__(self, message: str, expected: str | None = None, hint: str | None = None):
        super().__init__(message)
        self.expected = expected
        self.hint = hint


def dims_equal(a: Dim, b: Dim) -> bool | None:
    """True/False when decidable at compile time, None when it depends on run-time sizes."""
    if a is None or b is None:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a == b
    if isinstance(a, str) and isinstance(b, str):
        return True if a == b else None
    return None


def broadcast(a: Shape, b: Shape) -> Shape:
    """NumPy broadcasting of two symbolic shapes."""
    out: list[Dim] = []
    for i in range(max(len(a), len(b))):
        da = a[len(a) - 1 - i] if i < len(a) else 1
        db = b[len(b) - 1 - i] if i < len(b) else 1
        if da == 1:
            out.append(db)
        elif db == 1:
            out.append(da)
        elif dims_equal(da, db) is False:
            raise ShapeError(f"shapes {fmt_shape(a)} and {fmt_shape(b)} do not broadcast",
                             expected="matching sizes, or size 1, in each trailing dimension")
        else:
            out.append(da if da is not None else db)
    return tuple(reversed(out))


def fmt_shape(s: Shape) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in s) + "]"


def numel(shape: Shape) -> Dim:
    total = 1
    for d in shape:
        if not isinstance(d, int):
            return None
        total *= d
    return total


def norm_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"axis {axis} is out of range for a tensor of rank {rank}",
                         expected=f"an axis in [{-rank}, {rank - 1}]")
    return axis % rank if rank else 0


@dataclass(frozen=True)
class LayerType:
    """A layer object (Linear(10), Sequential(...)); applying it maps input shapes to output shapes."""

    kind: str

    def __str__(self) -> str:
        return f"layer {self.kind}"


@dataclass(frozen=True)
class ModelType:
    """An instance (or, with is_class, the definition) of a `model` block."""

    name: str
    is_class: bool = False

    def __str__(self) -> str:
        return f"model {self.name}" + (" (class)" if self.is_class else "")


@dataclass(frozen=True)
class OpaqueType:
    """Values that only flow into constructs: data ('data'), optimizers ('optimizer'), losses ('loss'), initialisers."""

    kind: str

    def __str__(self) -> str:
        return self.kind


@dataclass(frozen=True)
class DataType(OpaqueType):
    """A data set ('data') whose batches' types are known: examples [batch, ...] and labels or targets [batch, ...],
    both in the DSL's layout (None: not known), so `train` can check them against the model and the loss."""

    examples: "TensorType | None" = None
    labels: "TensorType | None" = None


@dataclass(frozen=True)
class ListType:
    """A Python list built with `append` (its length is known only at run time)."""

    elem: "Type | None" = None

    def __str__(self) -> str:
        return f"list of {self.elem}" if self.elem is not None else "empty list"


# ---- tuples and functions as values: the type machinery lowering and model bodies share ----------------------
def is_str(t: Type) -> bool:
    return isinstance(t, ScalarType) and t.kind == "str"


def substitute(t: Type, bindings: dict) -> Type:
    """`t` with its named dimensions replaced by what one call bound them to (through tuples)."""
    if isinstance(t, TensorType):
        return TensorType(t.dtype, tuple(bindings.get(d, d) if isinstance(d, str) else d for d in t.shape))
    if isinstance(t, SeqType):
        return SeqType(tuple(substitute(i, bindings) for i in t.items), t.kind)
    return t


def conforms(got: Type, declared: Type) -> bool:
    """Whether a value of type `got` may stand where `declared` is annotated (a result, a tuple item):
    same dtype and rank, no dimension known to differ; an int where a float is declared; tuples item by item."""
    if isinstance(got, AnyType) or isinstance(declared, AnyType):
        return True
    if isinstance(declared, TensorType) and isinstance(got, TensorType):
        return declared.dtype == got.dtype and declared.rank == got.rank and not any(
            dims_equal(a, b) is False for a, b in zip(declared.shape, got.shape))
    if isinstance(declared, ScalarType) and isinstance(got, ScalarType):
        return declared.kind == got.kind or (declared.kind == "float" and got.kind == "int")
    if isinstance(declared, SeqType) and isinstance(got, SeqType):
        return len(declared.items) == len(got.items) and all(conforms(g, d) for g, d in zip(got.items, declared.items))
    if isinstance(declared, FuncType) and isinstance(got, FuncType):
        return True
    return False


def join(a: Type, b: Type) -> Type | None:
    """The one type a loop variable has when it takes values of types `a` and `b` in turn (None: none fits):
    tensors of one dtype and rank (a dimension that differs becomes unknown), scalars of one kind (int and
    float give float), tuples of one length item by item, functions."""
    if a == b:
        return a
    if isinstance(a, AnyType) or isinstance(b, AnyType):
        return ANY
    if isinstance(a, TensorType) and isinstance(b, TensorType) and a.dtype == b.dtype and a.rank == b.rank:
        return TensorType(a.dtype, tuple(x if x == y else None for x, y in zip(a.shape, b.shape)))
    if isinstance(a, ScalarType) and isinstance(b, ScalarType) and {a.kind, b.kind} == {"int", "float"}:
        return FLOAT
    if isinstance(a, SeqType) and isinstance(b, SeqType) and len(a.items) == len(b.items):
        items = [join(x, y) for x, y in zip(a.items, b.items)]
        return None if any(i is None for i in items) else SeqType(tuple(items), a.kind)  # type: ignore[arg-type]
    if isinstance(a, FuncType) and isinstance(b, FuncType):
        return FuncType("function", tuple(dict.fromkeys(a.candidates() + b.candidates())))
    return None


def elements(t: Type) -> Type | None:
    """The type of each value a `for` loop takes from an iterable of type `t` (None: not iterable, or its items
    have no one type): a tuple or list literal's items joined, a list built with `append`'s element type, a
    string's characters (strings)."""
    if isinstance(t, AnyType):
        return ANY
    if isinstance(t, ListType):
        return t.elem if t.elem is not None else ANY
    if is_str(t):  # a string's characters
        return t
    if isinstance(t, SeqType):
        if not t.items:
            return ANY
        out: Type | None = t.items[0]
        for item in t.items[1:]:
            out = join(out, item) if out is not None else None
        return out
    return None
