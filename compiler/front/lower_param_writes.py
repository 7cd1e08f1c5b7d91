"""Lowering of parameter writes and model printouts at the top level of a chapter: `net.out.weight = W`,
`net.out.weight[0, :] = 1`, `net.out.bias += 1`, and `print(net)`. Each is checked where it stands: the value's
dtype and shape against the parameter's (canonical layout), the index against what every framework can write."""
from __future__ import annotations

from d2lc.front import ast as A
from d2lc.front.lower_base import LowererBase, article
from d2lc.front.lower_params import is_path_base
from d2lc.core import ir
from d2lc.core.diagnostics import Loc
from d2lc.core.types import NONE, AnyType, ScalarType, TensorType, fmt_shape

WRITE_HINT = "write a whole parameter (`net.out.weight = W`) or a part of it (`net.out.weight[0, :] = 1.0`)"


def _fits(want: tuple, got: tuple) -> bool:
    """Whether shape `got` is shape `want`, a size unknown at compile time (None or a name) matching any."""
    return len(want) == len(got) and all(not isinstance(a, int) or not isinstance(b, int) or a == b for a, b in zip(want, got))


class ParamWriteLowering(LowererBase):
    """Mixed into the Lowerer: assignments whose target is a parameter, and `print` of a model."""

    def param_write(self, target: A.Node, value: ir.Expr, loc: Loc) -> ir.Stmt | None:
        """`target = value` where target is `net.out.weight` or `net.out.weight[index]`."""
        index_node = target if isinstance(target, A.Subscript) else None
        ref = self.expr(index_node.value if index_node is not None else target)  # type: ignore[attr-defined]
        if isinstance(ref.type, AnyType) and not isinstance(ref, ir.ParamRef):
            return None  # reported where it was read
        if not isinstance(ref, ir.ParamRef):
            self.error(target.loc, "cannot assign to this expression", expected="a name, an indexed name (X[i] = ...) or a "  # type: ignore[attr-defined]
                       "parameter (net.out.weight = ...)", hint="assign the value to a name, e.g. `y = ...`")
            return None
        ptype = ref.type
        if not isinstance(value.type, (TensorType, ScalarType, AnyType)) or isinstance(value.type, ScalarType) \
                and value.type.kind not in ("int", "float"):
            self.error(value.loc, f"a parameter holds float32 numbers, got {article(value.type)}", expected="a float32 tensor",  # type: ignore[attr-defined]
                       hint=WRITE_HINT)
            return None
        if isinstance(value.type, TensorType) and value.type.dtype != ptype.dtype:
            self.error(value.loc, f"a parameter holds {ptype.dtype.name} numbers, got {article(value.type)}",  # type: ignore[attr-defined]
                       expected=f"a {ptype.dtype.name} tensor", hint=f"convert it first: `.astype({ptype.dtype.name})`")
            return None
        if index_node is None:
            return self._whole_write(ref, value, loc)
        return self._part_write(ref, index_node, value, loc)

    def _whole_write(self, ref: ir.ParamRef, value: ir.Expr, loc: Loc) -> ir.Stmt | None:
        shape = ref.type.shape  # type: ignore[attr-defined]
        if isinstance(value.type, ScalarType):
            self.error(value.loc, "a parameter is written with a tensor of its shape, got a number",  # type: ignore[attr-defined]
                       expected=f"a tensor of shape {fmt_shape(shape)}",
                       hint="fill every element through `[:]` (`net.out.bias[:] = 0.0`), or write `full_like(...)` of the parameter")
            return None
        if isinstance(value.type, TensorType) and not _fits(shape, value.type.shape):
            self.error(value.loc, f"a value of shape {fmt_shape(value.type.shape)} cannot replace a parameter of shape "  # type: ignore[attr-defined]
                       f"{fmt_shape(shape)}", expected=f"a tensor of shape {fmt_shape(shape)}",
                       hint="parameters keep their shape; a Linear weight is (out_features, in_features)")
            return None
        return ir.ParamWrite(loc, ref, None, value)

    def _part_write(self, ref: ir.ParamRef, target: A.Subscript, value: ir.Expr, loc: Loc) -> ir.Stmt | None:
        index, slot = self._index(target, ref)  # type: ignore[attr-defined]
        if index is None:
            return None
        for it in index:
            if not (isinstance(it, ir.IndexSlice) and it.step is None or isinstance(it, ir.Expr) and (
                    isinstance(it.type, AnyType) or isinstance(it.type, ScalarType) and it.type.kind == "int")):
                self.error(target.loc, "a parameter is written through ints and slices without steps", expected="w[0, :] = ..., "  # type: ignore[attr-defined]
                           "w[1:3] = ...", hint="each framework lays some parameters out in another order; name every axis")
                return None
        if not isinstance(slot, TensorType):
            return ir.ParamWrite(loc, ref, index, value)
        if isinstance(value.type, TensorType) and value.type.rank and not _fits(slot.shape, value.type.shape):
            self.error(value.loc, f"a value of shape {fmt_shape(value.type.shape)} does not fit the part of shape "  # type: ignore[attr-defined]
                       f"{fmt_shape(slot.shape)}", expected=f"a number, or a tensor of shape {fmt_shape(slot.shape)}",
                       hint="reshape the value to the part's shape; a parameter's part is not broadcast into")
            return None
        return ir.ParamWrite(loc, ref, index, value)

    def show_model(self, e: A.Call) -> ir.Expr | None:
        """`print(net)` of a model instance or a layer held by a name: its printout (None: an ordinary print)."""
        if len(e.args) != 1 or e.kwargs:
            return None
        arg = e.args[0]
        if not isinstance(arg, A.Name):
            return None
        net = self.expr(arg)  # type: ignore[attr-defined]
        if not (isinstance(net, ir.Var) and is_path_base(net)):
            return None
        if self.current_model is not None or self.scope is not self.globals:  # type: ignore[attr-defined]
            return self.error(e.loc, "a model is printed at the top level of a chapter", expected="print(net) outside `def` "  # type: ignore[attr-defined]
                              "and `model`", hint="print its parameters' shapes instead")
        return ir.ShowModel(NONE, e.loc, net)
