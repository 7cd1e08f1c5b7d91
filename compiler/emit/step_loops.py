"""What every target shares for hand-written training loops: an optimizer bound to a model (`opt = SGD(net, ...)`)
and the loop over a data set's training batches that steps it (ir.StepLoop); each target writes its framework's own
training step in targets/<fw>/loops.py (docs/dsl.md, "Training loops")."""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.core.diagnostics import Diagnostic
from d2lc.emit.errors import EmitError
from d2lc.core.types import FLOAT, OpaqueType
from d2lc.emit.expressions import Emitted
from d2lc.emit.fmt import sub
from d2lc.emit.optimizers import nonzero


class _Substitute(cst.CSTTransformer):
    def __init__(self, name: str, value: cst.BaseExpression):
        self.name, self.value = name, value

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        return self.value if original.value == self.name else updated


def applied(fn: cst.BaseExpression, arg: cst.BaseExpression) -> cst.BaseExpression:
    """`lambda params: torch.optim.SGD(params, ...)` applied to `arg`: its body with the parameter replaced."""
    assert isinstance(fn, cst.Lambda) and len(fn.params.params) == 1, fn
    return fn.body.visit(_Substitute(fn.params.params[0].name.value, arg))


def schedule_of(b: ir.Construct) -> ir.Construct | None:
    """The learning-rate schedule an optimizer's `lr` is (`SGD(net, lr=StepLR(0.1, step_size=2))`), if any."""
    lr = b.args.get("lr")
    return lr if isinstance(lr, ir.Construct) and lr.type == OpaqueType("schedule") else None


def with_lr(b: ir.Construct, code: cst.BaseExpression) -> ir.Construct:
    """The optimizer with its `lr` already written as `code` (the schedule's base rate, or the framework's schedule)."""
    lr = b.args["lr"]
    return ir.Construct(OpaqueType("optimizer"), b.loc, b.kind, {**b.args, "lr": Emitted(FLOAT, lr.loc, code)})


def refuse_momentum(em, b: ir.Construct, framework: str) -> None:
    """Keras and gluon keep SGD's velocity as -lr times PyTorch's buffer: the same steps for a constant rate only."""
    if b.kind == "SGD" and nonzero(b, "momentum") is not None:
        em.unsupported_construct(b.loc, f"`SGD` with a momentum and a learning-rate schedule ({framework} keeps the "
                                        "velocity scaled by the learning rate, PyTorch's steps only while it is constant)")


def line(node: cst.BaseSmallStatement | cst.BaseExpression) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine([node if isinstance(node, cst.BaseSmallStatement) else cst.Expr(node)])


class StepLoops:
    """The shared half of a hand-written training loop; a target without one reports it unsupported."""

    def bound_optimizer(self, b: ir.BoundOptimizer) -> cst.BaseExpression:
        """`SGD(net, lr=0.1)`: the framework's optimizer over the model's parameters."""
        raise EmitError(Diagnostic(b.loc, f"a hand-written training loop is not supported by target `{self.backend.name}`",
                                   expected=f"code that {self.backend.display_name} supports",
                                   hint="train with `train(net, data, ...)`, or mark this cell `::: only` for other targets"))

    def step_loop(self, s: ir.StepLoop) -> list[cst.BaseStatement]:
        """`for X, y in data.train:`: the loss's statements and the framework's step."""
        raise EmitError(Diagnostic(s.loc, f"a hand-written training loop is not supported by target `{self.backend.name}`",
                                   expected=f"code that {self.backend.display_name} supports",
                                   hint="train with `train(net, data, ...)`, or mark this cell `::: only` for other targets"))

    def batches_of(self, loader: cst.BaseExpression) -> cst.BaseExpression:
        """A data set part's loader as something to iterate over (JAX's are functions: called)."""
        return loader

    def train_batches(self, s: ir.StepLoop) -> cst.BaseExpression:
        """The data set's training batches: the first of its (training, validation) pair."""
        return sub(self.expr(s.iter), [cst.SubscriptElement(cst.Index(cst.Integer("0")))])

    def loss_body(self, s: ir.StepLoop) -> list[cst.BaseStatement]:
        """The statements that compute the step's loss, as the chapter wrote them."""
        return [st for inner in s.body for st in self.stmt(inner)]

    def batch_loop(self, s: ir.StepLoop, body: list[cst.BaseStatement],
                   batches: cst.BaseExpression | None = None) -> list[cst.BaseStatement]:
        """`for X, y in <batches>:` around `body`."""
        it = self.train_batches(s) if batches is None else batches
        return [cst.For(self.targets(s.loop_vars), it, self.indented(body))]


__all__ = ["StepLoops", "applied", "line", "schedule_of", "with_lr", "refuse_momentum"]
