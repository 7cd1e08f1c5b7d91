"""Paddle parameter reads: a Linear's weight is stored [in, out] (transposed to the canonical (out, in), and written
with `set_value`); batch
normalisation's running statistics are `_mean` and `_variance`; a layer built on its first batch sits in `Lazy.layer`."""
import libcst as cst

from d2lc.emit.fmt import attr, sub
from d2lc.emit.params import AUG_OPS, line, method
from d2lc.emit.rules import call
from d2lc.emit.layer_inputs import input_size_code, layer_inputs
from d2lc.core import ir

_NAMES = {(k, n): v for k in ("BatchNorm1d", "BatchNorm2d") for n, v in (("running_mean", "_mean"), ("running_var", "_variance"))}


class PaddleParams:
    """Mixed into PaddleEmitter."""

    param_names = _NAMES

    def _lazy(self, code, st):
        layer = st.node
        row = self.layer_rows.get(layer.kind) if isinstance(layer, ir.Layer) else None
        if row is None or row.in_axis is None:
            return code
        size = input_size_code(layer_inputs(st.owner), layer, row.in_axis) if st.owner is not None else self._in_size(layer, row.in_axis)
        if size is None:
            return attr(code, cst.Name("layer"))  # the Lazy wrapper's layer, built on the first batch
        return code

    def path_member(self, code, st):
        return self._lazy(attr(code, cst.Name(st.member or "")), st)

    def path_index(self, code, st):
        return self._lazy(super().path_index(code, st), st)

    def param_value(self, code, layer, name):
        return attr(code, cst.Name("T")) if name == "weight" and layer.kind == "Linear" else code

    def param_copy(self, value):
        return method(method(value, "detach"), "clone")  # the parameter itself (or a view of it): a copy, untracked

    def own_param(self, code):
        return code

    native_perms = {("Linear", "weight"): (1, 0)}

    def param_grad(self, g):
        """The loss computed again (if its graph may be gone), then `paddle.grad(loss, param)[0]`: a new tensor (no `.grad` buffer that a later
        backward pass or `clear_gradients()` would change under it), in the canonical layout."""
        run = [] if self.graph_kept(g) else self.replay(g)
        again = self.graph_read_later(g) or self.differentiated_again(g)  # its graph still read: kept
        retain = cst.Name("True") if again else None
        y = self.recorded_value(g, run)
        self.pre.extend(run)
        self.graph_freed(g, retained=again)
        first = sub(call("paddle.grad", y, self.param_object(g.param), retain_graph=retain),
                    [cst.SubscriptElement(cst.Index(cst.Integer("0")))])
        return first if g.param.own else self.param_value(first, g.param.layer, g.param.weight)

    def store_param(self, p, idx, value):
        target = self.param_object(p)
        if idx is None:
            return [line(method(target, "set_value", value))]
        write = line(cst.Assign([cst.AssignTarget(sub(target, idx))], value))
        return [cst.With([cst.WithItem(call("paddle.no_grad"))], cst.IndentedBlock([write]))]

    def update_param(self, p, op, value):
        new = cst.BinaryOperation(self.param_object(p), AUG_OPS[op][0](), value)
        return [line(method(self.param_object(p), "set_value", new))]

    def num_params(self, n):
        return cst.parse_expression(f"sum(p.size for p in {n.root.name}.parameters() if not p.stop_gradient)")
