"""Parameter and sub-layer access at the top level (`net.net[2].weight`, `num_params(net)`, `net.out.weight = W`,
`print(net)`): the walk from the model to the layer shared by every backend, with hooks for what each spells its own
way (names, layouts, counting, writing, printing)."""
from __future__ import annotations

from typing import ClassVar

import libcst as cst

from d2lc.core import ir
from d2lc.core.diagnostics import Diagnostic
from d2lc.core.types import TensorType
from d2lc.emit.errors import EmitError
from d2lc.emit import files
from d2lc.emit.fmt import attr, sub


AUG_OPS = {"add": (cst.Add, cst.AddAssign), "sub": (cst.Subtract, cst.SubtractAssign), "mul": (cst.Multiply, cst.MultiplyAssign),
           "truediv": (cst.Divide, cst.DivideAssign)}


def index(base: cst.BaseExpression, i: int) -> cst.Subscript:
    return sub(base, [cst.SubscriptElement(cst.Index(cst.Integer(str(i))))])


def line(code: cst.BaseExpression | cst.BaseSmallStatement) -> cst.SimpleStatementLine:
    """One statement on its own line (an expression becomes an expression statement)."""
    return cst.SimpleStatementLine([code if isinstance(code, cst.BaseSmallStatement) else cst.Expr(code)])


def method(obj: cst.BaseExpression, name: str, *args: cst.BaseExpression) -> cst.Call:
    """`obj.name(args)`."""
    return cst.Call(attr(obj, cst.Name(name)), [cst.Arg(a) for a in args])


def _full() -> ir.IndexSlice:
    return ir.IndexSlice(None, None, None)


def native_write(perm: tuple[int, ...] | None, index: list | None, value_rank: int) -> tuple[list | None, tuple[int, ...] | None]:
    """A write in the canonical layout, in a layout whose axis k holds canonical axis `perm[k]` (None: the same):
    the index in the native order (None: the whole tensor) and the axes to transpose the value by (None: as it is)."""
    if perm is None:
        return index, None
    if index is None:
        return None, perm
    items = list(index) + [_full() for _ in range(len(perm) - len(index))]
    native = [items[a] for a in perm]
    while len(native) > 1 and isinstance(native[-1], ir.IndexSlice) and native[-1].start is None and native[-1].stop is None:
        native.pop()
    slot = [a for a, it in enumerate(items) if isinstance(it, ir.IndexSlice)]  # the part's axes, canonical order
    order = tuple(slot.index(a) for a in perm if a in slot)  # the part's axes, native order
    return native, order if value_rank > 1 and order != tuple(range(len(order))) else None


class ParamAccess:
    """Mixed into Emitter. A backend overrides `param_names` (its attribute for a canonical tensor), `param_value`
    (the conversion to the canonical layout), `num_params`, `store_param` (a write) and `show_model` (a printout);
    the walk itself is `path_member` / `path_index`."""

    # (layer kind or "*", canonical tensor name) -> the framework's attribute
    param_names: ClassVar[dict[tuple[str, str], str]] = {}
    # (layer kind, canonical tensor name) -> the canonical axis each axis of the framework's tensor holds
    native_perms: ClassVar[dict[tuple[str, str], tuple[int, ...]]] = {}
    # whether `show_model` is a `print(...)` call (the notebook harness matches print calls to the chapter's)
    printout_is_print: ClassVar[bool] = True

    def param_object(self, p: ir.ParamRef) -> cst.BaseExpression:
        """The framework's own object for a parameter (`net.out.weight`, `net.out.kernel`), in its layout."""
        code: cst.BaseExpression = cst.Name(p.root.name)
        for st in p.steps[1:-1] if p.own else p.steps[1:]:
            code = self.path_member(code, st) if st.member is not None else self.path_index(code, st)
        if p.own:
            return attr(code, cst.Name(p.weight))
        native = self.param_names.get((p.layer.kind, p.weight), self.param_names.get(("*", p.weight), p.weight))
        return attr(code, cst.Name(native))

    def param_ref(self, p: ir.ParamRef) -> cst.BaseExpression:
        code = self.param_object(p)
        value = self.own_param(code) if p.own else self.param_value(code, p.layer, p.weight)
        return self.param_copy(value) if p.copy else value

    def param_copy(self, value: cst.BaseExpression) -> cst.BaseExpression:
        """A read that a later write or training step must not change: a copy where the read shares the parameter's
        memory (nothing to do where it is a new tensor already)."""
        return value

    def path_member(self, code: cst.BaseExpression, st: ir.PathStep) -> cst.BaseExpression:
        return attr(code, cst.Name(st.member or ""))

    def path_index(self, code: cst.BaseExpression, st: ir.PathStep) -> cst.BaseExpression:
        return index(code, st.index or 0)

    def own_param(self, code: cst.BaseExpression) -> cst.BaseExpression:
        return code

    def param_value(self, code: cst.BaseExpression, layer: ir.Layer, name: str) -> cst.BaseExpression:
        """A layer's tensor in the canonical layout ((out, in) dense weights, OIHW kernels)."""
        return code

    def num_params(self, n: ir.NumParams) -> cst.BaseExpression:
        return cst.parse_expression(f"sum(p.numel() for p in {n.root.name}.parameters())")

    # ---- gradients --------------------------------------------------------------------------------
    def param_grad(self, g: ir.ParamGrad) -> cst.BaseExpression:
        """`grad(loss, net.out.weight)`: the framework's gradient of the replayed loss, in the canonical layout."""
        raise EmitError(Diagnostic(g.loc, f"the gradient of a parameter is not supported by target `{self.backend.name}`",
                                   expected=f"code that {self.backend.display_name} supports",
                                   hint="mark this cell `::: only` for other targets"))

    def replay(self, g: ir.ParamGrad) -> list[cst.BaseStatement]:
        """The statements that compute the loss from the model's calls, emitted again (to record them)."""
        return [st for s in g.slice for st in self.stmt(s)]

    # ---- writes and printouts ------------------------------------------------------------------
    def param_write(self, s: ir.ParamWrite) -> list[cst.BaseStatement]:
        """`net.out.weight[index] = value`: the index and the value in the framework's layout, then its idiom."""
        p = s.target
        if s.aug is not None:
            return self.update_param(p, s.aug, self.write_value(ir.ParamWrite(s.loc, p, None, s.value.args["y"])))
        perm = None if p.own else self.native_perms.get((p.layer.kind, p.weight))
        rank = s.value.type.rank if isinstance(s.value.type, TensorType) else 0
        idx, order = native_write(perm, s.index, rank)
        value = self.write_value(s)
        if order is not None:
            value = self.transposed(value, order)
        return self.store_param(p, None if idx is None else self.index(idx), value)

    def write_value(self, s: ir.ParamWrite) -> cst.BaseExpression:
        v = s.value
        if isinstance(v, ir.Const) and isinstance(v.value, int) and not isinstance(v.value, bool):
            return self.literal(float(v.value))
        return self.expr(v)

    def transposed(self, value: cst.BaseExpression, order: tuple[int, ...]) -> cst.BaseExpression:
        """`value` with its axes in `order` (a canonical tensor in the framework's layout)."""
        return attr(value, cst.Name("T")) if order == (1, 0) else cst.Call(
            attr(value, cst.Name("transpose")), [cst.Arg(cst.Integer(str(a))) for a in order])

    def store_param(self, p: ir.ParamRef, idx: list | None, value: cst.BaseExpression) -> list[cst.BaseStatement]:
        """The framework's write of `value` into parameter `p` (its part `idx`, subscript elements; None: all of it)."""
        raise EmitError(Diagnostic(p.loc, f"writing a parameter is not supported by target `{self.backend.name}`",
                                   expected=f"code that {self.backend.display_name} supports",
                                   hint="mark this cell `::: only` for other targets"))

    def native_value(self, p: ir.ParamRef) -> cst.BaseExpression:
        """A parameter's tensor in the framework's own layout."""
        return self.param_object(p)

    def update_param(self, p: ir.ParamRef, op: str, value: cst.BaseExpression) -> list[cst.BaseStatement]:
        """`p op= value` with a number `value` (op: add, sub, mul, truediv): no layout to convert."""
        new = cst.BinaryOperation(self.native_value(p), AUG_OPS[op][0](), value)
        return self.store_param(p, None, new)

    def params_file(self, f: ir.ParamsFile) -> cst.BaseExpression:
        """`save_params(net, path)` / `load_params(clone, path)` in the backend's format (emit/files.py)."""
        return files.params_file(self, f)

    def show_model(self, m: ir.ShowModel) -> cst.BaseExpression:
        """`print(net)`: the framework's own printout of a model."""
        return cst.Call(cst.Name("print"), [cst.Arg(cst.Name(m.root.name))])
