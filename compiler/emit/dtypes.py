"""A backend's dtypes: their usual spelling (`dtype_names`), and helpers for its `natural_dtype` (the dtype a
creation op gives when no dtype is passed)."""
from __future__ import annotations

from typing import Callable

from d2lc.core import ir
from d2lc.core.types import DType, ListType, ScalarType, SeqType


def dtype_names(module: str, bool_name: str = "bool") -> dict[DType, str]:
    """Every dtype as the array module spells it: `torch.float32`, ... (`bool_` where the module says so)."""
    return {d: f"{module}.{bool_name if d is DType.bool else d.value}" for d in DType}


def literal_kind(e: ir.Expr | None) -> str:
    """'float', 'int' or 'bool': the widest kind of number in a literal or scalar argument."""
    if e is None:
        return "int"
    kinds: set[str] = set()

    def visit(n) -> None:
        if isinstance(n, ir.Seq):
            for i in n.items:
                visit(i)
        elif isinstance(n.type, ScalarType):
            kinds.add(n.type.kind)
        elif isinstance(n.type, ListType) and isinstance(n.type.elem, ScalarType):  # a run-time list of numbers
            kinds.add(n.type.elem.kind)
        elif isinstance(n.type, SeqType):
            kinds.update(getattr(t, "kind", "float") for t in n.type.items)
        else:
            kinds.add("float")

    visit(e)
    return "float" if "float" in kinds else ("bool" if kinds == {"bool"} else "int")


def creation_defaults(int_dtype: DType, float_dtype: DType = DType.float32,
                      always: DType | None = None) -> Callable[[ir.Op], DType | None]:
    """A natural_dtype function for frameworks that infer dtype from the literal (or always use one)."""
    def natural(op: ir.Op) -> DType | None:
        kind = None
        if op.op == "tensor":
            kind = literal_kind(op.args.get("data"))
        elif op.op == "arange":
            kind = "float" if any(literal_kind(op.args.get(k)) == "float" for k in ("start", "stop", "step") if op.args.get(k) is not None) else "int"
        elif op.op == "full":
            kind = literal_kind(op.args.get("value"))
        elif op.op in ("zeros", "ones", "linspace", "eye"):
            kind = "float"
        else:
            return None
        if always is not None:
            return always
        return {"float": float_dtype, "int": int_dtype, "bool": DType.bool}[kind]
    return natural


def widened_sum(op: ir.Op, wide: DType) -> DType | None:
    """For a sum: the dtype a framework that widens int32 (and bool) sums to `wide` gives; None for other ops."""
    x = op.args.get("x")
    if op.op != "sum" or x is None or not hasattr(x.type, "dtype"):
        return None
    return wide if x.type.dtype in (DType.int32, DType.bool) else x.type.dtype
