"""Gluon parameter access: `Parameter.data()` (a write: `set_data`, or into `data()`), weights already (out, in) and OIHW; normalisation's gamma and beta."""
import libcst as cst
from d2lc.core.diagnostics import Diagnostic
from d2lc.emit.errors import EmitError
from libcst.helpers import parse_template_statement

from d2lc.emit.fmt import attr, sub
from d2lc.emit.params import AUG_OPS, line, method

_NAMES = {(k, n): v for k in ("BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm") for n, v in (("weight", "gamma"), ("bias", "beta"))}


class MXNetParams:
    """Mixed into MXNetEmitter."""

    param_names = _NAMES

    def param_value(self, code, layer, name):
        return cst.Call(attr(code, cst.Name("data")), [])

    def param_copy(self, value):
        return method(value, "copy")  # `data()` is the parameter's own array

    def own_param(self, code):
        return cst.Call(attr(code, cst.Name("data")), [])

    def param_grad(self, g):
        """The loss computed again under `autograd.record(train_mode=False)` (the forward as the chapter computed it),
        `loss.backward()`, then a copy of the parameter's `grad()` (the next backward pass writes into that buffer); a
        second gradient of the same loss reads the `grad()` that backward pass filled."""
        if self.acts_differently_in_training(g.param.steps[0].node, kinds=("BatchNorm1d", "BatchNorm2d")):
            raise EmitError(Diagnostic(g.loc, "the gradient of a parameter of a model with batch normalisation is not "
                                       "supported by target `mxnet`", expected="a model without BatchNorm layers",
                                       hint="gluon's BatchNorm differentiates with the batch's statistics even outside "
                                            "training; mark this cell `::: only` for other targets"))
        grad = method(method(self.param_object(g.param), "grad"), "copy")
        if self.last_backward is not None and self.last_backward == self.backward_key(g):
            return grad
        run = self.replay(g)
        y = self.recorded_value(g, run)
        block = parse_template_statement("with autograd.record(train_mode=False):\n    pass\n")
        self.pre.append(block.with_changes(body=cst.IndentedBlock(run)))
        self.pre.append(line(method(y, "backward")))
        self.graph_freed(g)
        return grad

    def store_param(self, p, idx, value):
        target = self.param_object(p)
        if idx is None:
            return [line(method(target, "set_data", value))]
        return [line(cst.Assign([cst.AssignTarget(sub(cst.Call(attr(target, cst.Name("data")), []), idx))], value))]

    def update_param(self, p, op, value):
        part = sub(cst.Call(attr(self.param_object(p), cst.Name("data")), []), [cst.SubscriptElement(cst.Slice(None, None))])
        return [line(cst.AugAssign(part, AUG_OPS[op][1](), value))]

    def num_params(self, n):
        return cst.parse_expression(f'sum(p.data().size for p in {n.root.name}.collect_params().values() if p.grad_req != "null")')
