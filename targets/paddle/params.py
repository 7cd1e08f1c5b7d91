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
        """`net.clear_gradients()`, `loss.backward()` (of the loss computed again if its graph may be gone), then a copy
        of the parameter's `.grad` in the canonical layout (the next `clear_gradients()` zeroes that buffer in place).
        A second gradient of the same loss reads the `.grad` that backward pass filled. (`paddle.grad` gives no
        gradient for a batch normalisation's weight.)"""
        grad = attr(self.param_object(g.param), cst.Name("grad"))
        grad = method(grad if g.param.own else self.param_value(grad, g.param.layer, g.param.weight), "clone")
        if self.last_backward is not None and self.last_backward == self.backward_key(g):
            return grad
        self.pre.append(line(cst.parse_expression(f"{g.param.root.name}.clear_gradients()")))
        retain = cst.Name("True") if self.graph_read_later(g) else None
        run = [] if self.graph_kept(g) else self.replay(g)
        y = self.recorded_value(g, run)
        self.pre.extend(run)
        self.pre.append(line(call(f"{y.value}.backward", retain_graph=retain)))
        self.graph_freed(g)
        return grad

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
