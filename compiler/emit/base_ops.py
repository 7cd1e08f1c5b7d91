"""The op table the backends share: NumPy's spelling, written in a backend's own array module.

Each backend's table is `{**base_ops("torch"), ...its differences}`, the way sqlglot dialects extend
`TRANSFORMS` and tinygrad renderers extend `code_for_op`. The shared rows come from two places:
- the op's spec: an `operator` writes it (`x + y`, `-x`), an `array_name` calls `ns.NAME(tensors...)`;
- the table below: NumPy's spelling of the other ops, wherever most of the frameworks share it.
So an op that NumPy and the frameworks spell alike needs no backend row at all; a backend that spells
it differently writes that one row.
"""
from __future__ import annotations

from d2lc.core.ops import SPECS
from d2lc.emit.rules import Attr, Custom, DTyped, Fn, Infix, Method, Prefix, Rule, Tmpl
from d2lc.emit.select_ops import ExplicitAxis, FlatOrderFree, masked_fill_where, masked_softmax

# The elementwise ops: the usual start of a backend's CAST_OPERANDS.
ELEMENTWISE = frozenset(name for name, spec in SPECS.items() if spec.category == "elementwise")


def spec_rows(ns: str) -> dict[str, Rule]:
    """The rows an op's spec spells: its Python operator, or NumPy's function of its tensors."""
    rows: dict[str, Rule] = {}
    for name, spec in SPECS.items():
        tensors = [p.name for p in spec.params if p.kind == "tensor"]
        if spec.operator is not None:
            rows[name] = Prefix(spec.operator) if len(tensors) == 1 else Infix(spec.operator)
        elif spec.array_name is not None:
            assert len(tensors) == len(spec.params), f"{name}: array_name is for ops of tensors only"
            rows[name] = Fn(f"{ns}.{spec.array_name}", *tensors)
    return rows


def _reduce(method: str) -> Method:
    return Method(method, axis="axis", keepdims="keepdims")


def base_ops(ns: str) -> dict[str, Rule]:
    """The shared op table for a backend whose array module is imported as `ns` (`torch`, `jnp`, `np`)."""
    return {
        **spec_rows(ns),
        # creation
        "tensor": DTyped(Fn(f"{ns}.array", "data")),
        "arange": DTyped(Fn(f"{ns}.arange", "start", "stop", "step")),
        "zeros": DTyped(Fn(f"{ns}.zeros", "shape")),
        "ones": DTyped(Fn(f"{ns}.ones", "shape")),
        "full": DTyped(Fn(f"{ns}.full", "shape", "value")),
        "linspace": DTyped(Fn(f"{ns}.linspace", "start", "stop", "num")),
        "eye": DTyped(Fn(f"{ns}.eye", "n")),
        "zeros_like": Fn(f"{ns}.zeros_like", "x", dtype="dtype"),
        "ones_like": Fn(f"{ns}.ones_like", "x", dtype="dtype"),
        "full_like": Fn(f"{ns}.full_like", "x", "value", dtype="dtype"),
        "randint": Fn(f"{ns}.random.randint", "low", "high", size="shape"),
        # elementwise
        "where": Tmpl(f"{ns}.where({{cond}}, {{x}}, {{y}})"),
        "clip": Fn(f"{ns}.clip", "x", "min", "max"),
        # reductions
        **{name: _reduce(name) for name in ("sum", "mean", "max", "min", "prod", "var", "argmax", "argmin")},
        "cumsum": Fn(f"{ns}.cumsum", "x", axis="axis"),
        "norm": Fn(f"{ns}.linalg.norm"),
        # sorting and selection (topk and one_hot have no NumPy spelling: every backend writes its own)
        "sort": ExplicitAxis(Fn(f"{ns}.sort", "x", axis="axis", descending="descending")),
        "argsort": ExplicitAxis(Fn(f"{ns}.argsort", "x", axis="axis", descending="descending")),
        "take_along_axis": Fn(f"{ns}.take_along_axis", "x", "indices", axis="axis"),
        "masked_fill": Custom(masked_fill_where),  # where(mask, value, x)
        "masked_softmax": Custom(masked_softmax),  # softmax(where(arange(k) < valid_lens[..., None], x, -1e6))
        # shape
        "reshape": Method("reshape", "*shape"),
        "concat": Fn(f"{ns}.concatenate", "tensors", axis="axis"),
        "stack": Fn(f"{ns}.stack", "tensors", axis="axis"),
        "squeeze": Fn(f"{ns}.squeeze", "x", axis="axis"),
        "unsqueeze": Fn(f"{ns}.expand_dims", "x", "axis"),
        "flip": Fn(f"{ns}.flip", "x", axis="axis"),
        "repeat": FlatOrderFree(Fn(f"{ns}.repeat", "x", "repeats", axis="axis"), "no axis"),
        "tile": Fn(f"{ns}.tile", "x", "reps"),
        # misc
        "clone": Method("copy"),
        "detach": Method("detach"),
        "astype": Method("astype", "dtype"),
        "item": Method("item"),
        "shape": Attr("shape"),
        "numel": Attr("size"),
        "len": Fn("len"),
    }
