"""The shared emitter: walks typed IR and builds libcst trees, asking the backend's table for each op.

`Emitter` is put together from one module per concern of the emit layer:
    expressions.py  literals, op arguments and casts; an expression to the backend's op table
    layout.py       channels-last activations (NHWC backends), in one place
    statements.py   the statement walker and its public hooks (before_stmt, bind, emit_stmt,
                    enter_block, leave_block, after_stmt), block depth
    gradients.py    what gradient emission shares; backends implement `grad`
    modeldefs.py    model hooks (targets/*/models.py implement them)
    assembly.py     a cell's code, the setup cell's imports and prelude, helper snippets

Backends subclass `Emitter` only for what a table cannot say: gradients, element assignment,
random draws and the notebook prelude; their own bookkeeping goes in a typed `State` dataclass.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import libcst as cst

from d2lc.core import ir
from d2lc.core.diagnostics import Diagnostic, Loc
from d2lc.emit.assembly import Assembly
from d2lc.emit.errors import EmitError
from d2lc.emit.facts import module_facts
from d2lc.emit.generic import GENERIC
from d2lc.emit.gradients import Gradients
from d2lc.emit.layout import ChannelsLast
from d2lc.emit.modeldefs import ModelEmission
from d2lc.emit.params import ParamAccess
from d2lc.emit.statements import Statements
from d2lc.emit.step_loops import StepLoops

if TYPE_CHECKING:
    from d2lc.emit.backend import Backend


@dataclass
class NoState:
    """The bookkeeping of a backend that keeps none of its own."""


class Emitter(ChannelsLast, ModelEmission, ParamAccess, StepLoops, Gradients, Statements, Assembly):
    """Emits one module (a chapter or a set of functions) for one backend."""

    State: ClassVar[type] = NoState  # a backend's own bookkeeping: a dataclass, made fresh for each module

    def __init__(self, backend: "Backend", module: ir.Module):
        self.backend = backend
        self.module = module
        self.state = self.State()
        self.pre: list[cst.BaseStatement] = []
        self.helper_defs: list[cst.BaseStatement] = []  # go before the outermost statement being emitted
        facts = module_facts(module)
        self.taken: set[str] = set(facts.names)
        self.user_names: set[str] = set(facts.names)
        self.grad_seen: set[str] = set()
        self.helpers_emitted: set[str] = set()
        self.recorded_runs: dict[int, ir.Grad] = dict(facts.recorded_runs)
        self.recorded: set[int] = set()
        self.follows_run: set[int] = set()  # grads in the statement right after their slice (see `sequence`)
        self.copied_writes: set[int] = set()  # element writes whose tensor a loop copied first (see `loop_copies`)
        self.shared_backward = dict(facts.shared_backward)  # grads that may read the previous grad's backward pass
        self.shares_wrt: set[int] = set(facts.shares_wrt)  # grads whose statement takes another gradient w.r.t. the same variable

    # ---- names -------------------------------------------------------------------------------
    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}{i}"
        self.taken.add(name)
        return name

    def scratch(self, base: str, busy: set[str] = frozenset()) -> str:
        """A name for a short-lived helper value (a tape, a temporary): reused, but never a chapter's own name."""
        name, i = base, 1
        while name in self.user_names or name in busy:
            i += 1
            name = f"{base}{i}"
        return name

    # ---- errors ------------------------------------------------------------------------------
    def unsupported(self, node: ir.Expr, why: str = "") -> None:
        name = node.op if isinstance(node, ir.Op) else type(node).__name__
        raise EmitError(Diagnostic(node.loc, f"op `{name}` is not supported by target `{self.backend.name}`",
                                   expected=f"an op that {self.backend.display_name} supports",
                                   hint=why or f"mark this cell `::: only` for other targets, or rewrite it with supported ops "
                                               f"(`d2lc test --targets={self.backend.name}` lists coverage)"))

    def error(self, loc: Loc, message: str, hint: str | None = None) -> None:
        raise EmitError(Diagnostic(loc, message, hint=hint))


__all__ = ["Emitter", "EmitError", "GENERIC", "NoState"]
