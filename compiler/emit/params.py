"""Parameter and sub-layer reads at the top level (`net.net[2].weight`, `num_params(net)`): the walk from the model
to the layer shared by every backend, with hooks for what each spells its own way (names, layouts, counting)."""
from __future__ import annotations

from typing import ClassVar

import libcst as cst

from d2lc.core import ir
from d2lc.emit.fmt import attr, sub


def index(base: cst.BaseExpression, i: int) -> cst.Subscript:
    return sub(base, [cst.SubscriptElement(cst.Index(cst.Integer(str(i))))])


class ParamAccess:
    """Mixed into Emitter. A backend overrides `param_names` (its attribute for a canonical tensor), `param_value`
    (the conversion to the canonical layout) and `num_params`; the walk itself is `path_member` / `path_index`."""

    # (layer kind or "*", canonical tensor name) -> the framework's attribute
    param_names: ClassVar[dict[tuple[str, str], str]] = {}

    def param_ref(self, p: ir.ParamRef) -> cst.BaseExpression:
        code: cst.BaseExpression = cst.Name(p.root.name)
        for st in p.steps[1:-1] if p.own else p.steps[1:]:
            code = self.path_member(code, st) if st.member is not None else self.path_index(code, st)
        if p.own:
            return self.own_param(attr(code, cst.Name(p.weight)))
        layer = p.layer
        native = self.param_names.get((layer.kind, p.weight), self.param_names.get(("*", p.weight), p.weight))
        return self.param_value(attr(code, cst.Name(native)), layer, p.weight)

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
