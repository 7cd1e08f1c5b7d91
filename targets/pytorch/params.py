"""PyTorch parameter access: the canonical layout itself; `.data` gives the tensor without its gradient tracking, a
write goes into the parameter under `torch.no_grad()`, `print(net)` is the module's own printout."""
import libcst as cst

from d2lc.emit.fmt import attr, sub
from d2lc.emit.params import AUG_OPS, line, method
from d2lc.emit.rules import call
from d2lc.passes.param_grads import names_read


class PyTorchParams:
    """Mixed into PyTorchEmitter (and, through it, Paddle's)."""

    def param_value(self, code, layer, name):
        return attr(code, cst.Name("data"))

    def param_copy(self, value):
        return method(value, "clone")  # `.data` shares the parameter's memory

    def own_param(self, code):
        return attr(code, cst.Name("data"))

    def store_param(self, p, idx, value):
        target = self.param_object(p)
        if idx is None:
            return self.no_grad(line(method(target, "copy_", value)))
        return self.no_grad(line(cst.Assign([cst.AssignTarget(sub(target, idx))], value)))

    def update_param(self, p, op, value):
        return self.no_grad(line(cst.AugAssign(self.param_object(p), AUG_OPS[op][1](), value)))

    def param_grad(self, g):
        """`net.zero_grad()`, `loss.backward()` (of the loss computed again if its graph may be gone): the parameter's
        `.grad`, already canonical (a later gradient's `zero_grad()` drops it rather than writing into it). A second
        gradient of the same loss reads the `.grad` that backward pass filled; in a chapter that also takes tensor
        gradients, whose backward passes may add into that `.grad`, it is a copy."""
        grad = attr(self.param_object(g.param), cst.Name("grad"))
        if self.all_grads:
            grad = method(grad, "clone")
        if self.last_backward is not None and self.last_backward == self.backward_key(g):
            return grad
        net = g.param.root.name
        self.pre.append(line(cst.parse_expression(f"{net}.zero_grad()")))
        retain = self.graph_read_later(g)
        run = [] if self.graph_kept(g) else self.replay(g)
        y = self.recorded_value(g, run)
        self.pre.extend(run)
        self.pre.append(line(call(f"{y.value}.backward", retain_graph=cst.Name("True") if retain else None)))
        self.after_backward(g)
        self.graph_freed(g)
        return grad

    def after_backward(self, g):
        """Tensors of the loss whose `.grad` this backward pass filled (the tensor gradients' bookkeeping)."""
        self.state.stale |= (names_read(g.slice) | names_read(g.y)) & self.grad_seen

    def no_grad(self, write):
        return [cst.With([cst.WithItem(call("torch.no_grad"))], cst.IndentedBlock([write]))]
