"""PyTorch parameter access: the canonical layout itself; `.data` gives the tensor without its gradient tracking, a
write goes into the parameter under `torch.no_grad()`, `print(net)` is the module's own printout."""
import libcst as cst

from d2lc.emit.fmt import attr, sub
from d2lc.emit.params import AUG_OPS, line, method
from d2lc.emit.rules import call


class PyTorchParams:
    """Mixed into PyTorchEmitter (and, through it, Paddle's)."""

    def param_value(self, code, layer, name):
        return attr(code, cst.Name("data"))

    def own_param(self, code):
        return attr(code, cst.Name("data"))

    def store_param(self, p, idx, value):
        target = self.param_object(p)
        if idx is None:
            return self.no_grad(line(method(target, "copy_", value)))
        return self.no_grad(line(cst.Assign([cst.AssignTarget(sub(target, idx))], value)))

    def update_param(self, p, op, value):
        return self.no_grad(line(cst.AugAssign(self.param_object(p), AUG_OPS[op][1](), value)))

    def no_grad(self, write):
        return [cst.With([cst.WithItem(call("torch.no_grad"))], cst.IndentedBlock([write]))]
