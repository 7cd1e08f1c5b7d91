"""What every target's emitter needs to know about a module before emitting it (target-independent),
computed once per module: a chapter is emitted for each target in turn."""
from __future__ import annotations

from dataclasses import dataclass

from d2lc.core import ir
from d2lc.passes.analysis import shared_backward


@dataclass(frozen=True)
class ModuleFacts:
    module: ir.Module
    names: frozenset[str]  # every name the chapter binds
    recorded_runs: dict[int, ir.Grad]  # id(first statement of an in-place grad's slice) -> the grad
    shared_backward: dict[int, ir.Grad]  # grads that may read the previous grad's backward pass
    shares_wrt: frozenset[int]  # grads whose statement takes another gradient w.r.t. the same variable


_last_facts: list[ModuleFacts] = []  # the last module's facts


def module_facts(module: ir.Module) -> ModuleFacts:
    if _last_facts and _last_facts[0].module is module:
        return _last_facts[0]
    recorded_runs: dict[int, ir.Grad] = {}
    shares_wrt: set[int] = set()
    for s in ir.walk_stmts(list(module.stmts())):
        grads = [e for e in ir.walk_exprs(s) if isinstance(e, ir.Grad)] if not isinstance(s, (ir.For, ir.If, ir.FuncDef)) else []
        for e in grads:
            if e.inplace:
                recorded_runs[id(e.slice[0])] = e
            if sum(h.wrt.name == e.wrt.name for h in grads) > 1:
                shares_wrt.add(id(e))
    facts = ModuleFacts(module, frozenset(_names_in(module)), recorded_runs, shared_backward(module), frozenset(shares_wrt))
    _last_facts[:] = [facts]
    return facts


def _names_in(module: ir.Module) -> set[str]:
    names: set[str] = set()
    for s in ir.walk_stmts(list(module.stmts())):
        if isinstance(s, (ir.Assign, ir.IndexAssign, ir.Unpack, ir.For)):
            names |= set(ir.bound_names(s))
        elif isinstance(s, ir.FuncDef):
            names.add(s.name)
            names |= {p.name for p in s.params}
    return names
