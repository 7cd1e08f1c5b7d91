"""What PyTorch spells differently from the table: gradients via `requires_grad_` and `backward()`."""
import libcst as cst

from d2lc.emit.fmt import attr

from d2lc import ir
from d2lc.emit.base import Emitter

from .models import PyTorchModels


class PyTorchEmitter(PyTorchModels, Emitter):
    def records_inplace(self, g: ir.Grad) -> bool:
        return True

    def record(self, g, run):
        return [cst.parse_statement(f"{g.wrt.name}.requires_grad_(True)\n"), *run]

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        x = g.wrt.name
        if x in self.grad_seen:  # .grad accumulates: start from nothing, not from the last result
            self.pre.append(cst.parse_statement(f"{x}.grad = None\n"))
        if id(g) not in self.recorded:
            self.pre.append(cst.parse_statement(f"{x}.requires_grad_(True)\n"))
            self.pre.extend(self._run(g))
        self.pre.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(self.expr(g.y), cst.Name("backward")), []))]))
        self.grad_seen.add(x)
        return attr(cst.Name(x), cst.Name("grad"))
