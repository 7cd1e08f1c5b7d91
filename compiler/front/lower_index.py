"""Lowering of indexing: subscripts of tensors and tuples, slices, `...`, `None`, and element assignment."""
from __future__ import annotations

from typing import Any

from d2lc.front import ast as A
from d2lc.front.lower_base import LowererBase, article
from d2lc.front.lower_params import is_path_base
from d2lc.front.lower_tables import Lowered, is_table
from d2lc.core import ir
from d2lc.core.text import VOCAB
from d2lc.front.lower_text import lower_text_subscript
from d2lc.core.ir import static_value
from d2lc.core.diagnostics import Loc, did_you_mean
from d2lc.core.types import ANY, NONE, AnyType, ListType, ScalarType, SeqType, is_str, ShapeError, TensorType, Type, broadcast, fmt_shape


class IndexLowering(LowererBase):
    """`X[...]` read and written, with the shape of what it selects."""

    def index_assign(self, target: A.Subscript, value: ir.Expr, loc: Loc) -> ir.Stmt | None:
        if not isinstance(target.value, A.Name):
            self.error(target.loc, "only a named tensor can be assigned into", expected="X[...] = value",
                       hint="assign the tensor to a name first, then assign into `name[...]`")
            return None
        name = target.value.id
        sym = self.scope.lookup(name)
        if sym is None:
            self.error(target.value.loc, f"assignment into undefined tensor `{name}`",
                       expected="a tensor defined before its elements are assigned",
                       hint=did_you_mean(name, self.scope.names()) or f"create it first, e.g. `{name} = zeros((3, 4))`")
            return None
        if not isinstance(sym.type, (TensorType, AnyType)):
            self.error(target.value.loc, f"`{name}` is {article(sym.type)}, not a tensor; only tensors support element assignment",
                       expected="a tensor", hint=f"create `{name}` as a tensor, e.g. `{name} = zeros((3,))`")
            return None
        index, slot = self._index(target, ir.Var(sym.type, target.value.loc, name))
        for it in index or ():
            if isinstance(it, ir.IndexSlice) and isinstance(static_value(it.step), int) and static_value(it.step) < 0:
                self.error(it.step.loc, "element assignment through a negative slice step", expected="positive steps",
                           hint="flip the value instead: `X[::-1] = V` is `X[:] = flip(V, axis=0)`")
                return None
        if isinstance(slot, TensorType) and isinstance(value.type, (TensorType, ScalarType)):
            vshape = value.type.shape if isinstance(value.type, TensorType) else ()
            try:
                if broadcast(slot.shape, vshape) != slot.shape and None not in slot.shape:
                    raise ShapeError(f"a value of shape {fmt_shape(vshape)} does not fit the slice of shape {fmt_shape(slot.shape)}")
            except ShapeError as exc:
                self.error(value.loc, str(exc).replace("do not broadcast", "do not fit together"),
                           expected=f"a value broadcastable to {fmt_shape(slot.shape)}",
                           hint="index or reshape the value so its shape matches the slice")
        if index is None:
            return None
        return ir.IndexAssign(loc, name, sym.type, index, value, slot_type=slot)
    def expr_Subscript(self, e: A.Subscript) -> ir.Expr:
        if isinstance(e.value, A.Attribute) and e.value.attr == "iloc":
            owner = self.expr(e.value.value)
            if is_table(owner.type):  # `df.iloc[rows, columns]` (lower_tables)
                return self.table_iloc(owner, e)
            base = self.expr(A.Attribute(e.value.loc, Lowered(owner.loc, owner), "iloc"))  # not lowered twice
        else:
            base = self.expr(e.value)
        if is_table(base.type):  # `df["Price"]`, `df[["a", "b"]]`
            return self.table_subscript(base, e)
        if is_path_base(base):  # `net[2]`: a layer of a Sequential (lower_params)
            return self.path_index(base, e)
        if is_str(base.type) or base.type == VOCAB or isinstance(base.type, ListType):  # strings, lists, vocabularies
            return lower_text_subscript(self, base, e)
        if isinstance(base.type, SeqType):
            if len(e.index) != 1:
                return self.error(e.loc, "a tuple takes a single index", expected="one int index, e.g. t[0]",
                                  hint="index the tuple once, then index the item")
            i = self.expr(e.index[0])
            iv = static_value(i)
            items = base.type.items
            if isinstance(iv, int):
                if not -len(items) <= iv < len(items):
                    return self.error(i.loc, f"index {iv} is out of range for a tuple of {len(items)} items",
                                      expected=f"an index in [{-len(items)}, {len(items) - 1}]",
                                      hint="indices start at 0; negative indices count from the end")
                t = items[iv]
            else:
                t = items[0] if items else ANY
            return ir.Op(t, e.loc, "getitem", {"x": base, "index": [i]})
        index, t = self._index(e, base)
        if index is None:
            return ir.Const(ANY, e.loc, None)
        return ir.Op(t, e.loc, "getitem", {"x": base, "index": index})

    def _index(self, e: A.Subscript, base: ir.Expr) -> tuple[list | None, Type]:
        """Lower an index expression and infer the resulting shape."""
        items: list = []
        for node in e.index:
            if isinstance(node, A.Slice):
                parts = [self.expr(p) if p is not None else None for p in (node.start, node.stop, node.step)]
                for p in parts:
                    if p is not None and not (isinstance(p.type, ScalarType) and p.type.kind == "int") and not isinstance(p.type, AnyType):
                        self.error(p.loc, f"slice bounds must be ints, got {p.type}", expected="an int",
                                   hint="convert with `int(...)`")
                step = static_value(parts[2]) if parts[2] is not None else None
                if isinstance(step, int) and step == 0:
                    self.error(parts[2].loc, "a slice step of 0", expected="a non-zero step",
                               hint="a step of 1 takes every element; -1 reverses the axis")
                elif isinstance(step, int) and step < 0 and (parts[0] is not None or parts[1] is not None):
                    self.error(parts[2].loc, "a negative slice step with bounds", expected="`::-k`: the whole axis, reversed",
                               hint="flip the axis first, then slice it: `flip(X, axis=0)[1:3]`")
                items.append(ir.IndexSlice(*parts))
            elif isinstance(node, A.EllipsisLit):
                items.append(ir.IndexEllipsis())
            elif isinstance(node, A.Literal) and node.value is None:
                items.append(ir.Const(NONE, node.loc, None))
            else:
                idx = self.expr(node)
                if isinstance(idx.type, TensorType):
                    self.error(idx.loc, "indexing with a tensor is not supported", expected="ints, slices, `...` or None",
                               hint="use `where(mask, X, 0)` for masks, or `.item()` for a scalar index")
                    return None, ANY
                if isinstance(idx.type, ScalarType) and idx.type.kind != "int":
                    self.error(idx.loc, f"indices must be ints, got {idx.type}", expected="an int",
                               hint="convert with `int(...)`")
                    return None, ANY
                items.append(idx)
        t = base.type
        if not isinstance(t, TensorType):
            if not isinstance(t, AnyType):
                self.error(e.loc, f"{article(t)} cannot be indexed", expected="a tensor or a tuple",
                           hint="only tensors and tuples support `[...]`")
            return items, ANY
        if sum(isinstance(i, ir.IndexEllipsis) for i in items) > 1:
            self.error(e.loc, "an index can hold at most one `...`", expected="at most one `...`",
                       hint="`...` already stands for all the axes it skips")
            return None, ANY
        consumed = sum(1 for i in items if not isinstance(i, ir.IndexEllipsis) and not (isinstance(i, ir.Const) and i.value is None))
        if consumed > t.rank:
            self.error(e.loc, f"too many indices: {consumed} for a tensor of rank {t.rank} {fmt_shape(t.shape)}",
                       expected=f"at most {t.rank} ind{'ex' if t.rank == 1 else 'ices'}",
                       hint="index each axis at most once; reshape first to index more axes")
            return None, ANY
        shape: list = []
        dims = list(t.shape)
        pos = 0
        for it in items:
            if isinstance(it, ir.IndexEllipsis):
                take = t.rank - consumed
                shape.extend(dims[pos:pos + take])
                pos += take
            elif isinstance(it, ir.Const) and it.value is None:
                shape.append(1)
            elif isinstance(it, ir.IndexSlice):
                bounds = [static_value(p) if p is not None else None for p in (it.start, it.stop, it.step)]
                known = all(p is None or b is not None for p, b in zip((it.start, it.stop, it.step), bounds))
                shape.append(_slice_len(dims[pos], *bounds) if known else None)  # a run-time bound: a run-time size
                pos += 1
            else:
                v = static_value(it)
                d = dims[pos]
                if isinstance(v, int) and isinstance(d, int) and not -d <= v < d:
                    self.error(it.loc, f"index {v} is out of range for axis {pos} of size {d}",
                               expected=f"an index in [{-d}, {d - 1}]" if d else "no index: the axis is empty",
                               hint="indices start at 0; negative indices count from the end")
                    return None, ANY
                pos += 1
        shape.extend(dims[pos:])
        return items, TensorType(t.dtype, tuple(shape))


def _slice_len(d: Any, start: Any, stop: Any, step: Any) -> Any:
    if not isinstance(d, int) or d < 0 or step == 0:
        return None
    if any(v is not None and not isinstance(v, int) for v in (start, stop, step)):
        return None
    return len(range(*slice(start, stop, step).indices(d)))

