"""The slice of a parameter's gradient (`grad(loss, net.out.weight)`): the top-level statements that compute the loss
from the model's calls, which every target replays under its recording at the grad site; and the checks that make
that replay compute what the chapter computed (the same model, its parameters unchanged, no new random draws)."""
from __future__ import annotations

from d2lc.core import ir
from d2lc.core.diagnostics import DiagnosticBag
from d2lc.core.ops import SPECS
from d2lc.passes.writes import report_rebound, writes

STRAIGHT = (ir.Assign, ir.Unpack, ir.ExprStmt)


def param_grads_in(stmt: ir.Stmt) -> list[ir.ParamGrad]:
    own = [] if isinstance(stmt, (ir.For, ir.If, ir.FuncDef)) else [stmt]
    return [e for s in own for e in ir.walk_exprs(s) if isinstance(e, ir.ParamGrad)]


def names_read(node) -> set[str]:
    """Every name an expression or statement reads, model calls (and their models) and detached values included."""
    out = set()
    for e in ir.walk_exprs(node):
        if isinstance(e, ir.Var):
            out.add(e.name)
        if isinstance(e, ir.CallModel) and isinstance(e.instance, ir.Var):
            out.add(e.instance.name)
    return out


def calls_model(node, name: str) -> bool:
    return any(isinstance(e, ir.CallModel) and isinstance(e.instance, ir.Var) and e.instance.name == name
               for e in ir.walk_exprs(node))


def slice_param_grads(top: list[ir.Stmt], bag: DiagnosticBag) -> None:
    """Fill every ParamGrad's `slice`; a parameter's gradient inside a loop or a branch is an error."""
    for k, stmt in enumerate(top):
        for g in param_grads_in(stmt):
            g.slice = _slice(g, top[:k], bag)
        for s in ir.walk_stmts([b for b in [stmt] if isinstance(b, (ir.For, ir.If))]):
            for g in (e for e in ir.own_exprs(s) if isinstance(e, ir.ParamGrad)):
                bag.error(g.loc, "the gradient of a parameter is taken at the top level, outside loops and branches",
                          expected="grad(loss, net.out.weight) at the top level, outside `for` and `if`",
                          hint="compute the loss and its gradient once, after the model's call")


def mark_param_copies(top: list[ir.Stmt]) -> None:
    """A parameter read at or before a statement that writes that model's parameters or trains it (a loop's next pass
    included), or bound to a name whose elements are written later, is a copy: each framework writes its parameters
    in place, and a value read stays as it was read (and writing it leaves the parameter alone). A read used up by its
    own statement (`print(net.out.bias)`) is not."""
    for k, stmt in enumerate(top):
        if isinstance(stmt, ir.ExprStmt) and not (isinstance(stmt.value, ir.Op) and stmt.value.op == "list_append"):
            continue  # `print(net.out.bias)`: the value is used up by its statement
        later = list(ir.walk_stmts(top[k:]))
        changed = {s.target.root.name for s in later if isinstance(s, ir.ParamWrite)} | \
            {s.net.name for s in later if isinstance(s, (ir.Train, ir.StepLoop)) and isinstance(s.net, ir.Var)} | \
            {e.root.name for s in later for e in ir.own_exprs(s) if isinstance(e, ir.ParamsFile) and e.load}
        target = stmt.target if isinstance(stmt, ir.ParamWrite) else None
        written = {s.name for s in later[1:] if isinstance(s, ir.IndexAssign)}  # `b = net.out.bias`, then `b[0] = ...`
        bound = isinstance(stmt, (ir.Assign, ir.Unpack)) and bool(set(ir.bound_names(stmt)) & written)
        for e in ir.walk_exprs(stmt):
            if isinstance(e, ir.ParamRef) and e is not target and (bound or e.root.name in changed):
                e.copy = True


def _slice(g: ir.ParamGrad, history: list[ir.Stmt], bag: DiagnosticBag) -> list[ir.Stmt]:
    net = g.param.root.name
    start = max((i + 1 for i, s in enumerate(history) if net in writes(s)), default=0)
    candidates = history[start:]
    tainted: set[str] = set()
    hits = []
    for s in candidates:
        hit = isinstance(s, STRAIGHT) and (calls_model(s, net) or bool(names_read(s) & tainted))
        hits.append(hit)
        if hit:
            tainted |= writes(s)
    needed = names_read(g.y) & tainted
    if not needed and not calls_model(g.y, net):
        bag.error(g.y.loc, f"this value is not computed from a call of `{net}`, so `{net}`'s parameters have no gradient "
                  "in it", expected=f"a loss computed from {net}(X) at the top level, before this line",
                  hint=f"compute the loss from the model's output, e.g. `loss = (({net}(X) - y) ** 2).mean()`")
        return []
    chosen: list[ir.Stmt] = []
    for s, hit in zip(reversed(candidates), reversed(hits)):
        if hit and writes(s) & needed:
            chosen.insert(0, s)
            if isinstance(s, (ir.Assign, ir.Unpack)):
                needed -= set(ir.bound_names(s))
            needed |= names_read(s) & tainted
    return chosen if _replayable(g, chosen, candidates, bag) else []


def _replayable(g: ir.ParamGrad, chosen: list[ir.Stmt], candidates: list[ir.Stmt], bag: DiagnosticBag) -> bool:
    """Whether replaying `chosen` at the grad site computes the chapter's loss again (else an error, at the grad)."""
    net = g.param.root.name
    for e in ir.walk_exprs([*chosen, g.y]):
        if isinstance(e, (ir.ParamRef, ir.NumParams)) and e.root.name == net:
            bag.error(e.loc, f"the loss reads `{net}`'s parameters directly; its gradient is taken through `{net}`'s calls only",
                      expected=f"a loss computed from {net}(X)", hint="a weight penalty's gradient is added by hand, "
                      "e.g. `grad(loss, net.out.weight) + 2 * lam * net.out.weight`")
            return False
        if isinstance(e, ir.Op) and e.op in SPECS and SPECS[e.op].category == "random":
            bag.error(e.loc, "the loss of a parameter's gradient draws random numbers", expected="a loss computed from "
                      "the model's call on data drawn before it", hint="draw the data first and assign it to a name; "
                      "the gradient computes the loss again")
            return False
    first = candidates.index(chosen[0]) if chosen else len(candidates)
    free = names_read(chosen) | names_read(g.y)
    for later in candidates[first:]:
        if later in chosen:
            continue
        if isinstance(later, ir.ParamWrite) and later.target.root.name == net or isinstance(later, (ir.Train, ir.StepLoop)) \
                and isinstance(later.net, ir.Var) and later.net.name == net:
            bag.error(g.loc, f"cannot take this gradient: `{net}`'s parameters changed after the loss was computed (line "
                      f"{later.loc.line})", expected=f"`{net}`'s parameters unchanged between the loss and its gradient",
                      hint="compute the loss again after the change, then take its gradient")
            return False
        if report_rebound(bag, g.loc, later, free):
            return False
    return True
