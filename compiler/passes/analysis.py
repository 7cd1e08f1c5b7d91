"""Analysis passes over the typed IR: autodiff slicing, aliasing, and feature detection."""
from __future__ import annotations

from typing import Iterable

from d2lc.core import ir
from d2lc.core.diagnostics import DiagnosticBag
from d2lc.core.ops import SPECS
from d2lc.core.types import TensorType
from d2lc.passes import param_grads
from d2lc.passes.writes import report_rebound, writes

VIEW_OPS = frozenset(name for name, spec in SPECS.items() if spec.view)  # results that may share memory with x


def run_passes(module: ir.Module, bag: DiagnosticBag) -> None:
    top = list(module.stmts())
    deps = result_params(module)
    slice_grads(top, [], bag, deps=deps)
    param_grads.slice_param_grads(top, bag)
    param_grads.mark_param_copies(top)
    for f in module.functions.values():
        slice_grads(f.body, [], bag, params={p.name for p in f.params}, deps=deps)
    blocks = list(_blocks(module))
    claimed: set[int] = set()
    for block in blocks:
        for stmt in block:
            for g in grads_in(stmt):
                ids = [id(s) for s in g.slice]
                if g.slice and not set(ids) & claimed and _consecutive(g.slice, blocks):
                    g.inplace = True
                    claimed |= set(ids)
    mark_aliases(top, set())
    for f in module.functions.values():
        mark_aliases(f.body, {p.name for p in f.params})
    module.features |= detect_features(module)


def _blocks(module: ir.Module):
    """Every statement list: cells, function bodies and nested bodies, in source order."""
    def nested(stmts):
        yield stmts
        for s in stmts:
            for name in ("body", "orelse"):
                inner = getattr(s, name, None)
                if inner:
                    yield from nested(inner)
    for cell in module.cells:
        yield from nested(cell.stmts)


def _consecutive(run: list[ir.Stmt], blocks) -> bool:
    for block in blocks:
        for i, s in enumerate(block):
            if s is run[0]:
                return all(i + k < len(block) and block[i + k] is r for k, r in enumerate(run))
    return False


# ---- names read and written ------------------------------------------------------------------
def reads(node, through_detach: bool = True) -> set[str]:
    """Names an expression or statement reads; with through_detach=False, reads under detach() don't count."""
    out: set[str] = set()

    def visit(n) -> None:
        if isinstance(n, ir.Var):
            out.add(n.name)
        elif isinstance(n, ir.Op):
            if n.op == "detach" and not through_detach:
                return
            for v in n.args.values():
                visit(v)
        elif isinstance(n, ir.Seq):
            for v in n.items:
                visit(v)
        elif isinstance(n, ir.CallFunc):
            for v in n.args:
                visit(v)
        elif isinstance(n, ir.CallModel):  # a model's output depends on its inputs (and on the model)
            visit(n.instance)
            visit(n.args)
        elif isinstance(n, ir.ApplyLayer):
            visit(n.args)
        elif isinstance(n, (ir.ParamRef, ir.SubLayer, ir.NumParams)):  # `net.out.weight` reads `net`
            visit(n.root)
        elif isinstance(n, ir.Grad):
            visit(n.y)
            visit(n.wrt)
        elif isinstance(n, ir.Lambda):  # what the body reads, but its own parameters
            out.update(reads(n.body, through_detach) - set(n.params))
        elif isinstance(n, ir.IndexSlice):
            for v in (n.start, n.stop, n.step):
                visit(v)
        elif isinstance(n, (list, tuple)):
            for v in n:
                visit(v)
        elif isinstance(n, (ir.Assign, ir.Unpack)):
            visit(n.value)
        elif isinstance(n, ir.IndexAssign):
            out.add(n.name)
            visit(n.index)
            visit(n.value)
        elif isinstance(n, (ir.ExprStmt, ir.Return)):
            visit(n.value)
        elif isinstance(n, ir.For):
            visit(n.iter)
            visit(n.body)
        elif isinstance(n, ir.If):
            visit(n.cond)
            visit(n.body)
            visit(n.orelse)

    visit(node)
    return out


def grads_in(stmt: ir.Stmt) -> list[ir.Grad]:
    own = [s for s in (stmt,) if not isinstance(s, (ir.For, ir.If, ir.FuncDef))]
    return [e for s in own for e in ir.walk_exprs(s) if isinstance(e, ir.Grad)]


def shared_backward(module: ir.Module) -> dict[int, ir.Grad]:
    """Grads that can read the backward pass of the grad just before them: {id(later grad): earlier grad}.

    `gw = grad(l, w)` followed directly by `gb = grad(l, b)`, with the same slice recomputing `l` and
    nothing in between rebinding `l`, `w`, `b` or what the slice reads: one recorded run and one backward
    pass give both (PyTorch's and MXNet's `.grad` are filled for every leaf that asked for one).
    """
    out: dict[int, ir.Grad] = {}
    for block in _blocks(module):
        grads = [grads_in(s) for s in block]
        for (first, g1s), (_, g2s) in zip(zip(block, grads), zip(block[1:], grads[1:])):
            if len(g1s) != 1 or len(g2s) != 1:
                continue
            g1, g2 = g1s[0], g2s[0]
            root = out.get(id(g1), g1)
            if not (root.inplace and isinstance(root.y, ir.Var) and isinstance(g2.y, ir.Var) and root.y.name == g2.y.name):
                continue
            if [id(x) for x in g2.slice] != [id(x) for x in root.slice] or g2.wrt.name == g1.wrt.name:
                continue
            joined = {g.wrt.name for g in (root, g2)} | {g.wrt.name for k, g in out.items() if out.get(k) is root}
            if writes(first) & ({root.y.name} | joined | reads(root.slice)):
                continue
            out[id(g2)] = root
    return out


# ---- data dependence through chapter functions ---------------------------------------------------
Deps = dict[str, set[int]]  # function name -> positions of the parameters its result may depend on


def result_params(module: ir.Module) -> Deps:
    """For each chapter function, the parameters its returned value may depend on by data flow (an
    over-approximation: control flow and loops are followed to a fixed point, conditions carry nothing)."""
    deps: Deps = {}
    for name, f in module.functions.items():  # definition order: a function calls only earlier ones
        deps[name] = {i for i, p in enumerate(f.params) if _returns_from(f.body, p.name, deps)}
    return deps


def _returns_from(body: list[ir.Stmt], param: str, deps: Deps) -> bool:
    stmts = list(ir.walk_stmts(body))
    tainted = {param}
    while True:
        before = len(tainted)
        for s in stmts:
            if isinstance(s, ir.For):
                if dependent_reads(s.iter, deps) & tainted:
                    tainted.add(s.var)
            elif not isinstance(s, (ir.If, ir.FuncDef)) and stmt_reads(s, deps) & tainted:
                tainted |= writes(s)
        if len(tainted) == before:
            break
    return any(isinstance(s, ir.Return) and s.value is not None and dependent_reads(s.value, deps) & tainted
               for s in stmts)


def dependent_reads(e, deps: Deps) -> set[str]:
    """The names a value may depend on by data flow: `reads` without detached values and without the
    arguments of a chapter function whose result does not depend on them."""
    if isinstance(e, ir.CallFunc) and e.func in deps:
        return set().union(set(), *(dependent_reads(a, deps) for i, a in enumerate(e.args) if i in deps[e.func]))
    if isinstance(e, ir.Op):
        return set() if e.op == "detach" else set().union(set(), *(dependent_reads(v, deps) for v in e.args.values()))
    if isinstance(e, (list, tuple)):
        return set().union(set(), *(dependent_reads(v, deps) for v in e))
    if isinstance(e, ir.Seq):
        return dependent_reads(e.items, deps)
    return reads(e, through_detach=False)


def stmt_reads(s: ir.Stmt, deps: Deps) -> set[str]:
    """`dependent_reads` of a statement (conservatively all its reads for compound statements)."""
    if isinstance(s, (ir.Assign, ir.ExprStmt, ir.Return)):
        return dependent_reads(s.value, deps) if s.value is not None else set()
    return reads(s, through_detach=False)


# ---- autodiff slicing --------------------------------------------------------------------------
def slice_grads(block: list[ir.Stmt], outer_history: list[ir.Stmt], bag: DiagnosticBag, params: set[str] = frozenset(),
                deps: Deps | None = None) -> None:
    """Fill every Grad's `slice`: the statements that recompute y from x, in source order."""
    for k, stmt in enumerate(block):
        history = outer_history + block[:k]
        for g in grads_in(stmt):
            g.slice = _slice_for(g, history, bag, params, deps or {})
        for name in ("body", "orelse"):
            inner = getattr(stmt, name, None)
            if inner and not isinstance(stmt, ir.FuncDef):
                slice_grads(inner, history, bag, params, deps)


def _slice_for(g: ir.Grad, history: list[ir.Stmt], bag: DiagnosticBag, params: set[str], deps: Deps) -> list[ir.Stmt]:
    x = g.wrt.name
    start = 0
    for i, s in enumerate(history):
        if x in writes(s):
            start = i + 1
    candidates = history[start:]
    tainted = {x}
    is_tainted: list[bool] = []
    for s in candidates:
        hit = bool(stmt_reads(s, deps) & tainted)
        is_tainted.append(hit)
        if hit:
            tainted |= writes(s)
    needed = dependent_reads(g.y, deps) & tainted
    if not needed:
        if isinstance(g.y, ir.CallFunc):
            bag.error(g.y.loc, f"the result of `{g.y.func}` does not depend on `{x}` (or only through `detach`), "
                               "so its gradient is zero", expected=f"a function whose result is computed from `{x}`",
                      hint=f"use that parameter in `{g.y.func}`'s result, or differentiate with respect to another argument")
            return []
        bag.error(g.y.loc, f"this value does not depend on `{x}` (or only through `detach`), so its gradient is zero",
                  expected=f"a value computed from `{x}`", hint=f"compute it from `{x}` after `{x}` is assigned")
        return []
    chosen: list[ir.Stmt] = []
    for s, hit in zip(reversed(candidates), reversed(is_tainted)):
        if hit and writes(s) & needed:
            chosen.insert(0, s)
            if isinstance(s, (ir.Assign, ir.Unpack)):  # a plain assignment is the whole definition: earlier ones are dead
                needed -= set(ir.bound_names(s))
            needed |= reads(s, through_detach=False) & tainted
    if _through_model_call(g, chosen, tainted, bag, deps):
        return []
    # Recomputation replays `chosen` at the grad site: what they read must still hold the same value.
    for s in chosen:
        after = candidates[candidates.index(s) + 1:]
        free = reads(s) - (writes(s) if isinstance(s, (ir.For, ir.If)) else set())
        for later in after:
            if later in chosen:
                continue
            if report_rebound(bag, g.loc, later, free) or _model_changed(bag, g.loc, later, s):
                return chosen
    return chosen


def _through_model_call(g: ir.Grad, chosen: list[ir.Stmt], tainted: set[str], bag: DiagnosticBag, deps: Deps) -> bool:
    """Report a model call on the way from x to y: `grad` differentiates tensors, not through a model's layers (every
    target would leave that path out, or differentiate it, differently); whether there was one."""
    for s in chosen:
        for e in ir.walk_exprs(s):
            if isinstance(e, ir.CallModel) and dependent_reads(e.args, deps) & tainted:
                name = e.instance.name if isinstance(e.instance, ir.Var) else "the model"
                bag.error(e.loc, f"the gradient with respect to `{g.wrt.name}` would flow through this call of `{name}`, "
                                 "and `grad` of a tensor does not differentiate through a model or layer",
                          expected=f"a value computed from `{g.wrt.name}` by ops and chapter functions",
                          hint=f"to treat the output as a constant, write detach({name}(...)); for a parameter's "
                               f"gradient, write grad(loss, {name}.<layer>.weight)")
                return True
    return False


def _model_changed(bag: DiagnosticBag, loc, later: ir.Stmt, replayed: ir.Stmt) -> bool:
    """Report a model that a replayed statement calls (or reads a parameter of) and `later` trains or writes a
    parameter of; whether it did."""
    called = {e.instance.name for e in ir.walk_exprs(replayed) if isinstance(e, ir.CallModel) and isinstance(e.instance, ir.Var)} \
        | {e.root.name for e in ir.walk_exprs(replayed) if isinstance(e, ir.ParamRef)}  # `net.out.weight * w` too
    for s in ir.walk_stmts([later]):
        net = s.net if isinstance(s, (ir.Train, ir.StepLoop)) else s.target.root if isinstance(s, ir.ParamWrite) else None
        if isinstance(net, ir.Var) and net.name in called:
            bag.error(loc, f"cannot differentiate here: `{net.name}` changed (trained or written) after it was used to "
                           "compute the value", expected=f"`{net.name}` unchanged until `grad`",
                      hint=f"take the gradient before changing `{net.name}`, or compute the value again after it")
            return True
    return False


# ---- aliasing ------------------------------------------------------------------------------------
def mark_aliases(block: list[ir.Stmt], shared: set[str]) -> None:
    """Mark element assignments whose tensor may share memory with another name (in torch/MXNet/TF)."""
    groups: dict[str, set[str]] = {n: {n, "<caller>"} for n in shared}

    def source_of(e: ir.Expr) -> str | None:
        while isinstance(e, ir.Op) and e.op in VIEW_OPS:
            e = e.args["x"]
        return e.name if isinstance(e, ir.Var) else None

    def detach(name: str) -> None:
        for members in groups.values():
            members.discard(name)
        groups[name] = {name}

    def view_source(s: ir.Assign) -> str | None:
        src = source_of(s.value) if isinstance(s.value.type, TensorType) else None
        return src if src != s.name else None

    def join(src: str, name: str) -> None:
        group = groups.setdefault(src, {src})
        group.add(name)
        groups[name] = group

    def visit(stmts: Iterable[ir.Stmt]) -> None:
        for s in stmts:
            if isinstance(s, ir.Assign):
                src = view_source(s)
                detach(s.name)
                if src is not None:
                    join(src, s.name)
            elif isinstance(s, ir.Unpack):  # `a, b = X, Y` aliases as `a = X; b = Y`; items of another tuple may alias
                for i, name in enumerate(s.names):
                    item = s.value.items[i] if isinstance(s.value, ir.Seq) else None
                    src = source_of(item) if item is not None and isinstance(item.type, TensorType) else None
                    detach(name)
                    if src is not None and src != name:
                        join(src, name)
                    elif isinstance(s.value, ir.Var):
                        join("<tuple>", name)
            elif isinstance(s, ir.IndexAssign):
                aliased = len(groups.get(s.name, {s.name})) > 1
                s.may_alias = s.may_alias or aliased  # in a loop: aliased on the first pass or on a later one
                if aliased:
                    detach(s.name)
            elif isinstance(s, ir.For):
                # An alias made anywhere in the body may be live at its start from a previous iteration:
                # joining them all first (an over-approximation) and visiting the body once keeps
                # this linear in the nesting depth (visiting it twice was exponential).
                for inner in ir.walk_stmts(s.body):
                    if isinstance(inner, ir.Assign) and view_source(inner) is not None:
                        join(view_source(inner), inner.name)
                if not s.over_range:  # a loop variable holds an item of a tuple or list: it may share its memory
                    for name in s.loop_vars:
                        join("<items>", name)
                visit(s.body)
            elif isinstance(s, ir.If):
                visit(s.body)
                visit(s.orelse)

    visit(block)


# ---- features --------------------------------------------------------------------------------------
def detect_features(module: ir.Module) -> set[str]:
    feats: set[str] = set()
    for s in ir.walk_stmts(list(module.stmts())):
        for e in ir.own_exprs(s):
            t = e.type
            if isinstance(t, TensorType) and t.dtype.is_64bit:
                feats.add("x64")
            if isinstance(e, ir.Op) and e.op in SPECS and SPECS[e.op].category == "random":
                feats.add("random")
            if isinstance(e, (ir.Grad, ir.ParamGrad)):
                feats.add("grad")
        if isinstance(s, ir.FuncDef):
            for p in s.params:
                if isinstance(p.type, TensorType) and p.type.dtype.is_64bit:
                    feats.add("x64")
    return feats


def differentiated_writes(module: ir.Module) -> set[int]:
    """The element writes a gradient differentiates through: those in a grad's recorded slice, and every
    one in a function that a grad's value or slice calls (directly or through other functions).

    A target whose element writes cut or forbid the tape (TensorFlow's `tf.Variable`, MXNet while
    recording) writes these functionally; it keeps its usual idiom for all the others."""
    stmts = list(module.stmts())
    funcs = {s.name: s for s in ir.walk_stmts(stmts) if isinstance(s, ir.FuncDef)}
    grads = [e for s in ir.walk_stmts(stmts) if not isinstance(s, ir.FuncDef)
             for e in ir.walk_exprs(s) if isinstance(e, ir.Grad)]
    recorded = [s for g in grads for s in ir.walk_stmts(g.slice)]
    out = {id(s) for s in recorded if isinstance(s, ir.IndexAssign)}

    def calls(nodes) -> set[str]:
        return {e.func for n in nodes for e in ir.walk_exprs(n) if isinstance(e, ir.CallFunc)}

    todo = calls([g.y for g in grads] + recorded)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen or name not in funcs:
            continue
        seen.add(name)
        body = list(ir.walk_stmts(funcs[name].body))
        out |= {id(s) for s in body if isinstance(s, ir.IndexAssign)}
        todo |= calls(body)
    return out
