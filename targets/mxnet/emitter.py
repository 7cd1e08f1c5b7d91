"""What MXNet spells differently: `attach_grad` + `autograd.record()`, and `npx.set_np()`."""
import libcst as cst

from d2lc.emit.fmt import attr
from libcst.helpers import parse_template_statement

from d2lc import ir
from d2lc.emit.base import Emitter

from .models import MXNetModels


class MXNetEmitter(MXNetModels, Emitter):
    def prelude(self) -> list[str]:
        return ["npx.set_np()"]

    def records_inplace(self, g: ir.Grad) -> bool:
        return isinstance(g.y, ir.Var)  # an expression y must itself be computed while recording

    def _recording(self, g: ir.Grad, run: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        attach = cst.parse_statement(f"{g.wrt.name}.attach_grad()\n")
        block = parse_template_statement("with autograd.record():\n    pass\n")
        return [attach, block.with_changes(body=cst.IndentedBlock(run))]

    def record(self, g, run):
        return self._recording(g, run)

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        y = self.expr(g.y)
        if id(g) not in self.recorded:
            run = self._run(g)
            if not isinstance(g.y, ir.Var):
                name = self.scratch("value")
                run.append(self.assign(name, y))
                y = cst.Name(name)
            self.pre.extend(self._recording(g, run))
        self.pre.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(y, cst.Name("backward")), []))]))
        return attr(cst.Name(g.wrt.name), cst.Name("grad"))
