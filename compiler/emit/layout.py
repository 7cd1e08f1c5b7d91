"""Channels-last activations, in one place: the DSL writes images NCHW; a backend whose
`Layouts.activations` is "NHWC" (TensorFlow, JAX) computes them NHWC.

Inside a model definition a rank-4 value is an NHWC activation, so the axes, shapes and indices that
the DSL writes NCHW are reordered as they are emitted; at a model call the image input is permuted
to NHWC and a rank-4 output back to NCHW, so code outside models sees the DSL's layout.
(This runs at emission time: the IR is shared by every target and the emitter is handed its statements.)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.ops import SPECS
from d2lc.core.types import INT, SeqType, TensorType
from d2lc.emit.expressions import Emitted, Expressions

if TYPE_CHECKING:
    from d2lc.emit.backend import Backend

NCHW_TO_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}


class ChannelsLast(Expressions):
    """Reorders NCHW axes, shapes and indices inside models, and permutes at model calls, for NHWC backends."""

    backend: "Backend"
    in_model: bool  # the statement walker's: whether it is emitting a model definition

    def channels_last(self) -> bool:
        """Whether a rank-4 value emitted now is stored NHWC (inside a model, on an NHWC backend)."""
        return self.in_model and self.backend.layouts.activations == "NHWC"

    def layout_shape(self, shape: ir.Expr) -> ir.Expr:
        """A rank-4 shape written NCHW, in this backend's activation layout."""
        if self.channels_last() and isinstance(shape, ir.Seq) and len(shape.items) == 4:
            items = shape.items
            return ir.Seq(shape.type, shape.loc, [items[0], items[2], items[3], items[1]], shape.kind)
        return shape

    def arg(self, node: ir.Op, name: str) -> cst.BaseExpression:
        if self.channels_last():
            v = node.args.get(name)
            spec = SPECS.get(node.op)
            kind = next((p.kind for p in spec.params if p.name == name), None) if spec else None
            if kind == "axis" and v is not None and _rank_of(node) == 4:
                return self.literal(_nhwc_axis(static_value(v)))
            if kind == "shape" and isinstance(v, ir.Seq) and len(v.items) == 4:
                return self.value(self.layout_shape(v), name)
        return super().arg(node, name)

    def getitem(self, node: ir.Op) -> cst.BaseExpression:
        x = node.args["x"]
        if self.channels_last() and isinstance(x.type, TensorType) and x.type.rank == 4:
            node = ir.Op(node.type, node.loc, "getitem", {**node.args, "index": _nhwc_index(node.args["index"])})
        if isinstance(x, ir.Op) and x.op == "shape" and self.channels_last() and isinstance(x.args["x"].type, TensorType) \
                and x.args["x"].type.rank == 4:
            i = static_value(node.args["index"][0])
            if isinstance(i, int):
                return self.subscript(self.expr(x), [ir.Const(node.type, node.loc, _nhwc_axis(i))])
        return super().getitem(node)

    def model_input(self, a: ir.Expr) -> cst.BaseExpression:
        """A model's image input, written NCHW in the DSL, in this backend's activation layout."""
        code = self.expr(a)
        if self.backend.layouts.activations == "NHWC" and isinstance(a.type, TensorType) and a.type.rank == 4:
            return self._permute(code, a, (0, 2, 3, 1))
        return code

    def to_canonical_layout(self, c: ir.Expr, code: cst.BaseExpression) -> cst.BaseExpression:
        """A model's rank-4 output, back in the DSL's NCHW layout."""
        if self.backend.layouts.activations == "NHWC" and isinstance(c.type, TensorType) and c.type.rank == 4:
            return self._permute(code, c, (0, 3, 1, 2))
        return code

    def _permute(self, code: cst.BaseExpression, e: ir.Expr, axes: tuple[int, ...]) -> cst.BaseExpression:
        perm = ir.Seq(SeqType((INT,) * 4), e.loc, [ir.Const(INT, e.loc, i) for i in axes])
        node = ir.Op(e.type, e.loc, "transpose", {"x": Emitted(e.type, e.loc, code), "axes": perm})
        return self.backend.ops["transpose"].emit(self, node)


def _nhwc_axis(axis):
    if isinstance(axis, tuple):
        return tuple(_nhwc_axis(a) for a in axis)
    return NCHW_TO_NHWC[axis % 4]


def _rank_of(node: ir.Op) -> int | None:
    x = node.args.get("x")
    if isinstance(x, ir.Expr) and isinstance(x.type, TensorType):
        return x.type.rank
    if node.op == "stack" and isinstance(node.type, TensorType):
        return node.type.rank
    ts = node.args.get("tensors")
    if isinstance(ts, ir.Seq) and ts.items and isinstance(ts.items[0].type, TensorType):
        return ts.items[0].type.rank
    return None


def _nhwc_index(items: list) -> list:
    """Reorder an index on an NCHW tensor for NHWC storage (no `...` or None allowed in it)."""
    if any(isinstance(i, ir.IndexEllipsis) or (isinstance(i, ir.Const) and i.value is None) for i in items):
        return items
    full = list(items) + [ir.IndexSlice(None, None, None) for _ in range(4 - len(items))]
    out = [full[0], full[2], full[3], full[1]]
    while out and isinstance(out[-1], ir.IndexSlice) and out[-1].start is None and out[-1].stop is None and out[-1].step is None:
        out.pop()
    return out
