"""PyTorch parameter reads: the canonical layout itself; `.data` gives the tensor without its gradient tracking."""
import libcst as cst

from d2lc.emit.fmt import attr


class PyTorchParams:
    """Mixed into PyTorchEmitter (and, through it, Paddle's)."""

    def param_value(self, code, layer, name):
        return attr(code, cst.Name("data"))

    def own_param(self, code):
        return attr(code, cst.Name("data"))
