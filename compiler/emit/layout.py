"""Channels-last activations, in one place: the DSL writes images NCHW; a backend whose
`Layouts.activations` is "NHWC" (TensorFlow, JAX) computes them NHWC.

Inside a model definition a rank-4 value is an NHWC activation, so the axes, shapes and indices that
the DSL writes NCHW are reordered as they are emitted; at a model call the image input is permuted
to NHWC and a rank-4 output back to NCHW, so code outside models sees the DSL's layout. Values of
other ranks keep the DSL's layout, so an op where a rank-4 value meets one of another rank (a reshape
or squeeze across ranks, a matmul, broadcasting against a lower rank, a reduction or index that keeps
the channel axis next to a spatial one) is computed on the NCHW view of its rank-4 inputs, and a
rank-4 result is stored NHWC again (`in_canonical_layout`); a rank-4 transpose maps its permutation.
A read of a rank-4 value's shape gives the NCHW sizes (`X.shape[1]` is C, `n, c, h, w = X.shape` unpacks
in the stored order), and a chapter function (a `def`, a lambda of the top level) called inside a model
is NCHW code: its rank-4 arguments are passed NCHW and its rank-4 result stored NHWC again.
(This runs at emission time: the IR is shared by every target and the emitter is handed its statements.)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.ops import SPECS
from d2lc.core.types import INT, FuncType, SeqType, TensorType
from d2lc.emit.expressions import Emitted, Expressions
from d2lc.emit.fmt import sub

if TYPE_CHECKING:
    from d2lc.emit.backend import Backend

NCHW_TO_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}


class ChannelsLast(Expressions):
    """Reorders NCHW axes, shapes and indices inside models, and permutes at model calls, for NHWC backends."""

    backend: "Backend"
    in_model: bool  # the statement walker's: whether it is emitting a model definition

    def channels_last(self) -> bool:
        """Whether a rank-4 value emitted now is stored NHWC (inside a model, on an NHWC backend)."""
        return self.in_model and self.backend.layouts.activations == "NHWC" and not getattr(self, "_canonical_now", False)

    def op(self, node: ir.Op) -> cst.BaseExpression:
        if self.channels_last():
            if node.op == "transpose" and _rank_of(node) == 4:
                perm = static_value(node.args.get("axes"))
                if isinstance(perm, tuple) and len(perm) == 4:
                    # stored axis i of the result is the input's stored axis A[p[B[i]]]
                    mapped = tuple((0, 3, 1, 2)[perm[(0, 2, 3, 1)[i]] % 4] for i in range(4))
                    seq = ir.Seq(SeqType((INT,) * 4), node.loc, [ir.Const(INT, node.loc, a) for a in mapped])
                    return super().op(ir.Op(node.type, node.loc, "transpose", {**node.args, "axes": seq}))
                return self.in_canonical_layout(node)
            if crosses_layout(node):
                return self.in_canonical_layout(node)
            if node.op == "shape" and _is_rank4(node.args["x"]):
                return self.nchw_shape(node)
            if node.op == "py_call":
                return self.call_value(node)
        return super().op(node)

    def expr(self, e: ir.Expr) -> cst.BaseExpression:
        if isinstance(e, ir.Lambda) and isinstance(e.type, FuncType) and self.channels_last():
            self._nhwc_lambdas = getattr(self, "_nhwc_lambdas", set()) | {e.type.name}  # its body reads NHWC values
        return super().expr(e)

    def call_value(self, node: ir.Op) -> cst.BaseExpression:
        """`f(x, ...)` through a function value inside a model: a lambda written in this model computes on the stored
        layout; any other function (a `def`, a lambda of the chapter's top level) on NCHW, as `call_func`."""
        f, args = node.args["f"], node.args["args"]
        if isinstance(f.type, FuncType) and f.type.name in getattr(self, "_nhwc_lambdas", set()):
            return super().op(node)
        return self.across_nchw_call(node, self.expr(f), args, getattr(f, "name", "this function"))

    def stored_shape(self, node: ir.Op) -> cst.BaseExpression:
        """`x.shape` as the framework gives it: for a rank-4 value inside a model, NHWC."""
        return super().op(node)

    def nchw_shape(self, node: ir.Op) -> cst.BaseExpression:
        """The shape tuple of a rank-4 value stored NHWC, in the DSL's NCHW order."""
        stored = self.stored_shape(node)
        return cst.Tuple([cst.Element(sub(stored, [cst.SubscriptElement(cst.Index(cst.Integer(str(a))))]))
                          for a in (0, 3, 1, 2)])

    def unpack(self, s: ir.Unpack) -> cst.SimpleStatementLine:
        """`n, c, h, w = X.shape` of a value stored NHWC binds the names in the stored order: `n, h, w, c = X.shape`."""
        v = s.value
        if self.channels_last() and isinstance(v, ir.Op) and v.op == "shape" and _is_rank4(v.args["x"]) and len(s.names) == 4:
            names = [s.names[a] for a in (0, 2, 3, 1)]
            return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(self.targets(names))], self.stored_shape(v))])
        return super().unpack(s)

    def in_canonical_layout(self, node: ir.Op) -> cst.BaseExpression:
        """`node` computed on the NCHW view of its rank-4 inputs, a rank-4 result stored NHWC again."""
        def canonical(v):
            # the operands, emitted here in the stored layout (a rank-4 one then permuted to NCHW); only what the
            # op's rule reads at compile time (literal axes, shapes and indices) stays IR, so a shape read such as
            # `X.shape[1]` or a reduction of a rank-4 value inside an operand is still mapped (issue 11)
            if isinstance(v, ir.Expr) and isinstance(v.type, TensorType) and v.type.rank == 4:
                return Emitted(v.type, v.loc, self._permute(self.expr(v), v, (0, 3, 1, 2)))
            if isinstance(v, ir.Seq):
                return ir.Seq(v.type, v.loc, [canonical(i) for i in v.items], v.kind)
            if isinstance(v, list):
                return [canonical(i) for i in v]
            if isinstance(v, ir.IndexSlice):
                return ir.IndexSlice(*(canonical(b) if b is not None else None for b in (v.start, v.stop, v.step)))
            if isinstance(v, ir.Expr) and not isinstance(v, (Emitted, ir.Const)) and static_value(v) is None:
                return Emitted(v.type, v.loc, self.expr(v))
            return v
        flat = ir.Op(node.type, node.loc, node.op, {k: canonical(v) for k, v in node.args.items()})
        saved, self._canonical_now = getattr(self, "_canonical_now", False), True
        try:  # the op's own axes, shapes and indices as the DSL writes them (sub-expressions are already code)
            code = super().op(flat)
        finally:
            self._canonical_now = saved
        if isinstance(node.type, TensorType) and node.type.rank == 4:
            code = self._permute(code, node, (0, 2, 3, 1))
        return code

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
            if kind == "shape" and isinstance(v, ir.Op) and v.op == "shape" and _is_rank4(v.args["x"]):
                return self.stored_shape(v)  # a new rank-4 value shaped like a stored one: the stored shape
            if kind == "shape" and isinstance(v, ir.Expr) and isinstance(v.type, SeqType) and len(v.type.items) == 4:
                code = self.expr(v)  # an NCHW shape held in a name: its sizes in NHWC order
                return cst.Tuple([cst.Element(sub(code, [cst.SubscriptElement(cst.Index(cst.Integer(str(a))))]))
                                  for a in (0, 2, 3, 1)])
        return super().arg(node, name)

    def getitem(self, node: ir.Op) -> cst.BaseExpression:
        x = node.args["x"]
        if self.channels_last() and isinstance(x.type, TensorType) and x.type.rank == 4 and _index_drops_out_of_order(node):
            return self.in_canonical_layout(node)
        if self.channels_last() and isinstance(x.type, TensorType) and x.type.rank == 4:
            node = ir.Op(node.type, node.loc, "getitem", {**node.args, "index": _nhwc_index(node.args["index"])})
        if isinstance(x, ir.Op) and x.op == "shape" and self.channels_last() and isinstance(x.args["x"].type, TensorType) \
                and x.args["x"].type.rank == 4:
            i = static_value(node.args["index"][0])
            if isinstance(i, int):
                return self.subscript(self.stored_shape(x), [ir.Const(node.type, node.loc, _nhwc_axis(i))])
        return super().getitem(node)  # a slice or a run-time index of a rank-4 shape reads the NCHW tuple

    def call_func(self, e: ir.CallFunc) -> cst.BaseExpression:
        """A chapter function called inside a model: its body is the DSL's NCHW code, so a rank-4 argument is passed
        NCHW and a rank-4 result stored NHWC again (a function read `Y.shape[1]` of an NHWC value as H)."""
        if not self.channels_last():
            return super().call_func(e)
        return self.across_nchw_call(e, cst.Name(e.func), e.args, e.func)

    def across_nchw_call(self, e: ir.Expr, fn: cst.BaseExpression, args: list, name: str) -> cst.BaseExpression:
        """`fn(args...)` of a function whose body is NCHW code, from inside a model that stores rank-4 values NHWC."""
        if any(_holds_rank4(v.type) and not _is_rank4(v) for v in (e, *args)):
            self.error(e.loc, f"inside a model, a call of `{name}` passes or returns a tuple or list holding an image "
                              f"(rank-4) tensor, which target `{self.backend.name}` stores channels-last",
                       hint="pass and return the rank-4 tensors one by one")
        nhwc = getattr(self, "_nhwc_lambdas", set())
        if any(isinstance(a.type, FuncType) and a.type.name in nhwc for a in args):
            self.error(e.loc, f"inside a model, a lambda written in the model is passed to `{name}`, which target "
                              f"`{self.backend.name}` would hand NCHW values while the lambda reads channels-last ones",
                       hint="define the lambda outside the model")
        code = cst.Call(fn, [cst.Arg(self._permute(self.expr(a), a, (0, 3, 1, 2)) if _is_rank4(a) else self.expr(a))
                             for a in args])
        return self._permute(code, e, (0, 2, 3, 1)) if _is_rank4(e) else code

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
        if self.backend.layouts.activations == "NHWC" and _holds_rank4(c.type):
            self.error(c.loc, f"this model returns a tuple holding an image (rank-4) tensor, which target "
                              f"`{self.backend.name}` stores channels-last inside models",
                       hint="return one rank-4 tensor, or flatten it before returning it with others")
        return code

    def _permute(self, code: cst.BaseExpression, e: ir.Expr, axes: tuple[int, ...]) -> cst.BaseExpression:
        perm = ir.Seq(SeqType((INT,) * 4), e.loc, [ir.Const(INT, e.loc, i) for i in axes])
        node = ir.Op(e.type, e.loc, "transpose", {"x": Emitted(e.type, e.loc, code), "axes": perm})
        return self.backend.ops["transpose"].emit(self, node)


CROSSING_SHAPE_OPS = frozenset({"reshape", "squeeze", "unsqueeze", "stack", "matmul", "dot", "one_hot", "tile", "repeat"})
REDUCTIONS_KEEPING_AXES = frozenset({"sum", "mean", "max", "min", "prod", "var", "argmax", "argmin", "norm"})


def _is_rank4(e) -> bool:
    return isinstance(e, ir.Expr) and isinstance(e.type, TensorType) and e.type.rank == 4


def _holds_rank4(t) -> bool:
    """Whether a value of type `t` is, or is a tuple or list holding, a rank-4 tensor."""
    if isinstance(t, TensorType):
        return t.rank == 4
    items = getattr(t, "items", None)
    return isinstance(items, tuple) and any(_holds_rank4(i) for i in items)


def _tensor_ranks(node: ir.Op) -> list[int]:
    """The ranks of `node`'s tensor operands; one whose every size is 1 broadcasts alike in any layout (rank 0)."""
    ranks = []
    for v in node.args.values():
        items = v.items if isinstance(v, ir.Seq) else [v]
        ranks += [0 if all(d == 1 for d in i.type.shape) else i.type.rank
                  for i in items if isinstance(i, ir.Expr) and isinstance(i.type, TensorType)]
    return ranks


def crosses_layout(node: ir.Op) -> bool:
    """Whether `node`, inside a model on an NHWC backend, must be computed on NCHW views (see the module doc)."""
    ranks = _tensor_ranks(node)
    out = node.type.rank if isinstance(node.type, TensorType) else None
    if 4 not in ranks and out != 4:
        return False
    category = SPECS[node.op].category if node.op in SPECS else None
    if node.op == "reshape" and _one_channel(node.args.get("x")) and (out != 4 or _one_channel(node)):
        return False  # one channel: NHWC and NCHW order the elements alike, and the rank-4 shape is reordered
    if node.op in CROSSING_SHAPE_OPS:
        return True
    if category in ("elementwise", "selection") or node.op in ("concat", "flip", "where", "clip"):
        return any(r not in (0, 4) for r in ranks) or (out is not None and out != 4 and 4 in ranks)
    if node.op in REDUCTIONS_KEEPING_AXES and out is not None and 0 < out < 4:
        axes = static_value(node.args.get("axis"))
        axes = axes if isinstance(axes, tuple) else (axes,)
        if any(not isinstance(a, int) for a in axes):
            return True
        gone = {a % 4 for a in axes}
        return [a for a in (0, 1, 2, 3) if a not in gone] != [a for a in (0, 2, 3, 1) if a not in gone]
    return False


def _one_channel(e) -> bool:
    """A value that is not rank 4, or a rank-4 one with a single channel (statically)."""
    t = getattr(e, "type", None)
    return not isinstance(t, TensorType) or t.rank != 4 or t.shape[1] == 1


def _index_drops_out_of_order(node: ir.Op) -> bool:
    """An index on a rank-4 value whose result (of lower rank) would keep NHWC's axis order, not NCHW's."""
    items = node.args["index"]
    if any(isinstance(i, ir.IndexEllipsis) or (isinstance(i, ir.Const) and i.value is None) for i in items):
        return True
    if not isinstance(node.type, TensorType) or node.type.rank == 4 or node.type.rank == 0:
        return False
    dropped = {k for k, i in enumerate(items) if not isinstance(i, ir.IndexSlice)}
    return [a for a in (0, 1, 2, 3) if a not in dropped] != [a for a in (0, 2, 3, 1) if a not in dropped]


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
