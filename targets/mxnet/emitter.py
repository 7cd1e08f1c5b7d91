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
        # an expression y must itself be computed while recording: with the run, when the grad comes right after it;
        # not when the statement takes another gradient w.r.t. the same x (its attach_grad() would cut this one's)
        return (isinstance(g.y, ir.Var) or id(g) in self.follows_run) and id(g) not in self.shares_wrt

    def _recording(self, g: ir.Grad, run: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        # later grads that read this backward pass attach their variables here too
        attach = [cst.parse_statement(f"{x}.attach_grad()\n") for x in [g.wrt.name, *self.joined_wrts(g)]]
        block = parse_template_statement("with autograd.record():\n    pass\n")
        return [*attach, block.with_changes(body=cst.IndentedBlock(run))]

    def record(self, g, run):
        self.state[id(g)] = self.recorded_value(g, run)
        return self._recording(g, run)

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        if self.reads_earlier_backward(g):  # filled by the backward pass just before
            return self.kept_grad(g, attr(cst.Name(g.wrt.name), cst.Name("grad")))
        if id(g) in self.recorded:
            y = self.state[id(g)]
        else:
            run = self._run(g)
            y = self.recorded_value(g, run)
            self.pre.extend(self._recording(g, run))
        self.pre.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(y, cst.Name("backward")), []))]))
        return self.kept_grad(g, attr(cst.Name(g.wrt.name), cst.Name("grad")))
