"""Shared emission of the sorting, selection and masking ops that NumPy has no one function for.

`masked_fill` and `masked_softmax` are written, where a framework has no op of its own, as the IR of
ops every backend already spells (`where`, `arange`, a comparison, `softmax`), so each target gets
its own idiom and its own casts for them; the helpers below give the static facts custom rows need
(an op's axis as the target stores it, the permutation that swaps an axis with the last).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import libcst as cst

from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.ops import SPECS
from d2lc.core.types import FLOAT, INT, NONE, DType, SeqType, TensorType, broadcast
from d2lc.emit.layout import NCHW_TO_NHWC

from d2lc.emit.rules import Rule

if TYPE_CHECKING:
    from d2lc.emit.rules import EmitterLike


def axis_of(em: "EmitterLike", node: ir.Op, name: str = "axis") -> int:
    """The op's single axis, non-negative, as the target stores it (NHWC inside a channels-last model)."""
    x = node.args["x"]
    rank = x.type.rank
    value = static_value(node.args.get(name))
    if value is None:
        value = next(p.default for p in SPECS[node.op].params if p.name == name)
    axis = value % rank if rank else 0
    channels_last = getattr(em, "channels_last", None)
    if rank == 4 and channels_last is not None and channels_last():
        return NCHW_TO_NHWC[axis]
    return axis


def axes_of(em: "EmitterLike", node: ir.Op, name: str = "axis") -> list[int]:
    """An op's axis argument as a list of non-negative axes (all of them when it is absent)."""
    rank = node.args["x"].type.rank
    value = static_value(node.args.get(name))
    if value is None:
        return list(range(rank))
    values = value if isinstance(value, tuple) else (value,)
    channels_last = getattr(em, "channels_last", None)
    nhwc = rank == 4 and channels_last is not None and channels_last()
    return [NCHW_TO_NHWC[a % rank] if nhwc else a % rank for a in values]


def _channels_last(em: "EmitterLike", node: ir.Op) -> bool:
    x = node.args.get("x")
    channels_last = getattr(em, "channels_last", None)
    return isinstance(getattr(x, "type", None), TensorType) and x.type.rank == 4 and channels_last is not None \
        and channels_last()


@dataclass(frozen=True)
class ExplicitAxis(Rule):
    """`rule` with a left-out axis written out where the target moves axes (a rank-4 value in a channels-last
    model): the DSL's default axis (-1, the NCHW width) is then emitted as the stored layout's axis, not as the
    framework's default (NHWC's last axis, the channels)."""

    rule: Rule
    name: str = "axis"

    def emit(self, em, node):
        if node.args.get(self.name) is None and _channels_last(em, node):
            default = next(p.default for p in SPECS[node.op].params if p.name == self.name)
            axis = default % 4  # non-negative: a rule leaves out an axis equal to its default
            node = ir.Op(node.type, node.loc, node.op, {**node.args, self.name: ir.Const(INT, node.loc, axis)})
        return self.rule.emit(em, node)


@dataclass(frozen=True)
class FlatOrderFree(Rule):
    """`rule`, refused where it would read a rank-4 value's element order (a channels-last model stores it NHWC):
    `repeat` without an axis flattens, `one_hot` appends an axis after the stored last one."""

    rule: Rule
    when: str

    def emit(self, em, node):
        if _channels_last(em, node) and (self.when != "no axis" or node.args.get("axis") is None):
            em.unsupported(node, "inside a channels-last model a rank-4 value is stored NHWC: do this outside the model")
        return self.rule.emit(em, node)


def swap_last(rank: int, axis: int) -> cst.List:
    """The permutation that swaps `axis` with the last axis (its own inverse), as a list literal."""
    perm = list(range(rank))
    perm[axis], perm[-1] = perm[-1], perm[axis]
    return cst.List([cst.Element(cst.Integer(str(i))) for i in perm])


def int_list(values: list[int]) -> cst.List:
    return cst.List([cst.Element(cst.Integer(str(v))) for v in values])


def kw(name: str, value: cst.BaseExpression) -> cst.Arg:
    return cst.Arg(value, keyword=cst.Name(name), equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))


def masked_fill_as_where(node: ir.Op) -> ir.Op:
    """`masked_fill(x, mask, value)` as `where(mask, value, x)`, typed as x."""
    return ir.Op(node.type, node.loc, "where", {"cond": node.args["mask"], "x": node.args["value"], "y": node.args["x"]})


def masked_fill_where(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    return em.expr(masked_fill_as_where(node))


MASKED = -1e6  # the score masked positions get before the softmax: its weight is 0 in float32 and float64


def masked_softmax_ir(node: ir.Op) -> ir.Op:
    """`softmax(where(arange(k) < valid_lens[..., None...], x, -1e6))`: positions at or past a length get no weight."""
    x, lens, loc = node.args["x"], node.args["valid_lens"], node.loc
    shape = x.type.shape
    k = shape[-1]
    if isinstance(k, int):
        size: ir.Expr = ir.Const(INT, loc, k)
    else:
        dims = ir.Op(SeqType((INT,) * len(shape)), loc, "shape", {"x": x})
        size = ir.Op(INT, loc, "getitem", {"x": dims, "index": [ir.Const(INT, loc, -1)]})
    positions = ir.Op(TensorType(DType.int64, (k,)), loc, "arange", {"start": size, "stop": None, "step": None, "dtype": None})
    extra = x.type.rank - lens.type.rank
    lens_shape = lens.type.shape + (1,) * extra
    widened = ir.Op(TensorType(lens.type.dtype, lens_shape), loc, "getitem",
                    {"x": lens, "index": [ir.IndexEllipsis()] + [ir.Const(NONE, loc, None) for _ in range(extra)]})
    mask = ir.Op(TensorType(DType.bool, broadcast(positions.type.shape, lens_shape)), loc, "lt", {"x": positions, "y": widened})
    filled = ir.Op(x.type, loc, "where", {"cond": mask, "x": x, "y": ir.Const(FLOAT, loc, MASKED)})
    return ir.Op(node.type, loc, "softmax", {"x": filled, "axis": None})


def masked_softmax(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    if _channels_last(em, node):
        em.unsupported(node, "inside a channels-last model a rank-4 value is stored NHWC: do this outside the model")
    return em.expr(masked_softmax_ir(node))
