"""What PyTorch spells differently from the table: gradients via `requires_grad_` and `backward()`."""
import libcst as cst

from d2lc.emit.fmt import attr

from d2lc import ir
from d2lc.emit.base import Emitter

from .models import PyTorchModels


class PyTorchEmitter(PyTorchModels, Emitter):
    def records_inplace(self, g: ir.Grad) -> bool:
        return True

    def _leaf(self, x: str) -> cst.BaseStatement:
        """Make x a leaf that requires grad: in place the first time, from a detached copy once it may be computed
        from earlier gradient work (`w = w - lr * g` is not a leaf)."""
        if x in self.grad_seen or x in self.state.get("nonleaf", set()):
            return cst.parse_statement(f"{x} = {x}.detach().requires_grad_(True)\n")
        return cst.parse_statement(f"{x}.requires_grad_(True)\n")

    def record(self, g, run):
        return [self._leaf(g.wrt.name), *run]

    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        from d2lc.passes import reads
        x = g.wrt.name
        involved = (reads(g.slice) | reads(g.y) | {x}) & self.grad_seen
        for name in sorted(involved):  # .grad accumulates in place: give this backward() fresh buffers
            self.pre.append(cst.parse_statement(f"{name}.grad = None\n"))
        if id(g) not in self.recorded:
            self.pre.append(self._leaf(x))
            self.pre.extend(self._run(g))
        self.pre.append(cst.SimpleStatementLine([cst.Expr(cst.Call(attr(self.expr(g.y), cst.Name("backward")), []))]))
        self.grad_seen.add(x)
        return attr(cst.Name(x), cst.Name("grad"))

    def _stmt(self, s):
        if isinstance(s, ir.Assign) and self.grad_seen:
            from d2lc.passes import reads
            nonleaf = self.state.setdefault("nonleaf", set())
            if reads(s.value) & self.grad_seen:
                nonleaf.add(s.name)
            else:
                nonleaf.discard(s.name)
        return super()._stmt(s)
