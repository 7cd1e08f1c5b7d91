"""Which top-level values of a chapter are the same on every target, and which depend on chance.

A value is *nondeterministic* when it depends (through data, or through the control flow that
computes it) on a random draw, a data set loader, a layer or model with parameters initialised by
the framework's default scheme or a random initialiser (stated `zeros`, `ones` and `constant`
draw nothing), or a training run. Frameworks draw different random
numbers from the same seed, so such values can only be compared by dtype and shape.

The analysis is a forward pass over the chapter's top-level statements, cell by cell; loops are
iterated to a fixed point. Functions are summarised: a function is nondeterministic when its body
draws (directly or through functions it calls) or reads a nondeterministic global.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from d2lc.core import ir
from d2lc.core.layers import LAYERS, RECURRENT_KINDS
from d2lc.core.ops import SPECS
from d2lc.core.types import OpaqueType

RANDOM_OPS = frozenset(name for name, spec in SPECS.items() if spec.category == "random" and name != "seed")  # the draws
FIXED_INITS = frozenset({"zeros", "ones", "constant"})  # initialisers that draw nothing
RANDOM_LAYERS = frozenset(RECURRENT_KINDS)  # their parameters always start from the framework's scheme


@dataclass
class Binding:
    """A name bound by a top-level statement of a cell (also inside top-level loops and ifs)."""

    cell: int  # index into module.cells
    name: str
    line: int
    deterministic: bool


@dataclass
class PrintSite:
    """A `print(...)` of the chapter: where it is and whether each printed value is deterministic."""

    cell: int  # the cell it is written in
    line: int
    deterministic: list[bool]
    in_function: str | None = None
    printout: bool = False  # `print(net)`: each framework's own text, never compared


@dataclass
class Analysis:
    bindings: dict[int, list[Binding]] = field(default_factory=dict)  # cell index -> bindings in order
    prints: dict[int, list[PrintSite]] = field(default_factory=dict)  # cell index -> print sites in source order
    tainted_at_end: dict[int, set[str]] = field(default_factory=dict)  # cell index -> tainted names after it


class _Taint:
    def __init__(self, module: ir.Module):
        self.module = module
        self.tainted: set[str] = set()
        self.funcs: dict[str, ir.FuncDef] = dict(module.functions)
        self.random_funcs: set[str] = set()
        self.call_args: dict[str, list[bool]] = {}  # function -> OR of its call sites' argument taints
        self.models = {s.name: s for s in ir.walk_stmts(list(module.stmts())) if isinstance(s, ir.ModelDef)}
        self.random_members: set[str] = set()

    # ---- expressions -------------------------------------------------------------------------------
    def expr(self, e: object) -> bool:
        """Whether the value of `e` depends on chance, given the current tainted names."""
        for x in ir.walk_exprs(e):
            if isinstance(x, ir.Op) and (x.op in RANDOM_OPS or x.op == "time"):
                return True  # a draw, or the wall clock: compared by dtype and shape only
            if isinstance(x, ir.Layer) and self.random_layer(x):
                return True
            if isinstance(x, ir.ParamDecl) and x.init.kind not in FIXED_INITS:
                return True
            if isinstance(x, ir.NewModel) and self.random_model(x.model):
                return True
            if isinstance(x, ir.Construct) and not (isinstance(x.type, OpaqueType) and x.type.kind in ("optimizer", "loss")):
                return True  # a data set loader
            if isinstance(x, ir.Var) and x.name in self.tainted:
                return True
            if isinstance(x, ir.CallModel) and self.expr(x.instance):  # walk_exprs skips the instance
                return True
            if isinstance(x, ir.ApplyLayer) and (x.member in self.tainted or x.member in self.random_members):
                return True  # a layer called at top level (or a member inside a model)
            if isinstance(x, ir.CallFunc):
                args = [self.expr(a) for a in x.args]
                seen = self.call_args.setdefault(x.func, [False] * len(args))
                self.call_args[x.func] = [a or b for a, b in zip(seen + [False] * (len(args) - len(seen)), args)]
                if x.func in self.random_funcs or any(args):
                    return True
        return False

    # ---- layers and models -------------------------------------------------------------------------
    def random_layer(self, layer: ir.Layer) -> bool:
        """Whether a layer's parameters start random: a stated constant initialiser makes them fixed."""
        if layer.kind in RANDOM_LAYERS:
            return True
        if LAYERS[layer.kind].inits:  # Linear, Conv2d, Embedding: random unless stated constant
            inits = layer.inits(zero_bias_default=False)  # a stated init= without bias_init= means a zero bias
            if "weight" not in inits or inits["weight"].kind not in FIXED_INITS:
                return True
            if layer.has_bias and layer.kind != "Embedding" and ("bias" not in inits or inits["bias"].kind not in FIXED_INITS):
                return True
        for child in layer.children:
            if isinstance(child, ir.Layer) and self.random_layer(child):
                return True
            if isinstance(child, ir.Var) and child.name in self.random_members:
                return True
        return False

    def random_model(self, name: str) -> bool:
        m = self.models.get(name)
        if m is None:
            return True
        saved, self.random_members = self.random_members, set()
        try:
            for member in m.members:
                if self.expr(member.value):
                    self.random_members.add(member.name)
            return bool(self.random_members)
        finally:
            self.random_members = saved

    # ---- functions ---------------------------------------------------------------------------------
    def summarise_functions(self) -> None:
        """A function is random if it draws, builds models, calls a random function or reads a tainted global."""
        changed = True
        while changed:
            changed = False
            for name, f in self.funcs.items():
                if name in self.random_funcs:
                    continue
                local = {p.name for p in f.params} | {n for s in ir.walk_stmts(f.body)
                                                       if isinstance(s, (ir.Assign, ir.IndexAssign, ir.Unpack)) for n in ir.bound_names(s)}
                saved = self.tainted
                self.tainted = {n for n in saved if n not in local}
                try:
                    hit = any(self.expr(s) for s in f.body)
                finally:
                    self.tainted = saved
                if hit:
                    self.random_funcs.add(name)
                    changed = True

    # ---- statements --------------------------------------------------------------------------------
    def stmts(self, stmts: list[ir.Stmt], control: bool, out: list[Binding], cell: int) -> None:
        for s in stmts:
            self.stmt(s, control, out, cell)

    def stmt(self, s: ir.Stmt, control: bool, out: list[Binding], cell: int) -> None:
        if isinstance(s, ir.Assign):
            t = control or self.expr(s.value)
            self._bind(s.name, t, s.loc.line, out, cell, replace=True)
        elif isinstance(s, ir.Unpack):
            t = control or self.expr(s.value)
            for name in s.names:
                self._bind(name, t, s.loc.line, out, cell, replace=True)
        elif isinstance(s, ir.IndexAssign):
            t = control or self.expr(s.value) or self.expr(s.index)
            self._bind(s.name, t, s.loc.line, out, cell, replace=False)
        elif isinstance(s, ir.ExprStmt):
            for x in ir.walk_exprs(s.value):
                if isinstance(x, ir.Op) and x.op == "list_append" and isinstance(x.args.get("xs"), ir.Var):
                    self._bind(x.args["xs"].name, control or self.expr(x.args.get("x")), s.loc.line, out, cell,
                               replace=False)  # xs.append(v) changes xs
            self.expr(s.value)  # records call-site taints
        elif isinstance(s, ir.StepLoop):
            if isinstance(s.net, ir.Var):
                self.tainted.add(s.net.name)  # trained by a hand-written loop: as by `train`
            for name in [*s.loop_vars, *(b[0] for b in _bound_in(s.body))]:
                self._bind(name, True, s.loc.line, out, cell, replace=True)  # batches each framework orders its own way
        elif isinstance(s, ir.For):
            t = control or self.expr(s.iter)
            for _ in range(3):  # a fixed point: taint flows around the loop at most a few times
                before = set(self.tainted)
                for var in s.loop_vars:
                    self._bind(var, t, s.loc.line, [], cell, replace=True)
                self.stmts(s.body, t, [], cell)
                if self.tainted == before:
                    break
            for var in s.loop_vars:
                self._bind(var, t, s.loc.line, out, cell, replace=True)
            for b in _bound_in(s.body):
                out.append(Binding(cell, b[0], b[1], b[0] not in self.tainted))
        elif isinstance(s, ir.If):
            t = control or self.expr(s.cond)
            self.stmts(s.body, t, [], cell)
            self.stmts(s.orelse, t, [], cell)
            for b in _bound_in(s.body + s.orelse):
                out.append(Binding(cell, b[0], b[1], b[0] not in self.tainted))
        elif isinstance(s, ir.Train):
            if isinstance(s.net, ir.Var):
                self.tainted.add(s.net.name)
        elif isinstance(s, ir.ParamWrite) and (control or self.expr(s.value) or self.expr(s.index)):
            self.tainted.add(s.target.root.name)  # a random value written into the model: what it computes is random
        elif isinstance(s, ir.FuncDef):
            self.funcs[s.name] = s
            self.summarise_functions()

    def _bind(self, name: str, tainted: bool, line: int, out: list[Binding], cell: int, replace: bool) -> None:
        if tainted:
            self.tainted.add(name)
        elif replace:
            self.tainted.discard(name)
        out.append(Binding(cell, name, line, name not in self.tainted))


def _bound_in(stmts: list[ir.Stmt]) -> list[tuple[str, int]]:
    """(name, line) of every name bound inside loop/if bodies (not inside nested functions)."""
    out = []
    for s in stmts:
        if isinstance(s, (ir.Assign, ir.IndexAssign, ir.Unpack)):
            out.extend((n, s.loc.line) for n in ir.bound_names(s))
        elif isinstance(s, ir.For):
            out.extend((n, s.loc.line) for n in s.loop_vars)
            out.extend(_bound_in(s.body))
        elif isinstance(s, ir.If):
            out.extend(_bound_in(s.body + s.orelse))
        elif isinstance(s, ir.ExprStmt):
            out.extend((x.args["xs"].name, s.loc.line) for x in ir.walk_exprs(s.value)
                       if isinstance(x, ir.Op) and x.op == "list_append" and isinstance(x.args.get("xs"), ir.Var))
    return out


def _print_ops(node: object) -> list[ir.Op]:
    return [x for x in ir.walk_exprs(node) if isinstance(x, ir.Op) and x.op == "print"]


def analyse(module: ir.Module) -> Analysis:
    """Bindings and print sites of every code cell, each marked deterministic or not."""
    taint = _Taint(module)
    taint.summarise_functions()
    result = Analysis()
    function_prints: list[tuple[int, str, ir.Op]] = []
    for i, cell in enumerate(module.cells):
        if cell.kind != "code":
            continue
        bindings: list[Binding] = []
        sites: list[PrintSite] = []
        for s in cell.stmts:
            if isinstance(s, ir.ModelDef):
                continue
            if isinstance(s, ir.FuncDef):
                for p in _print_ops(s.body):
                    function_prints.append((i, s.name, p))
                    sites.append(PrintSite(i, p.loc.line, [], s.name))
                taint.stmt(s, False, bindings, i)
                continue
            sites += [PrintSite(i, x.loc.line, [], printout=True) for x in ir.walk_exprs(s) if isinstance(x, ir.ShowModel)]
            ops = _print_ops(s)
            before = [[taint.expr(v) for v in p.args["values"]] for p in ops]
            taint.stmt(s, False, bindings, i)
            for p, early in zip(ops, before):
                # before and after the statement: a loop may taint a name it prints on a later pass
                late = [taint.expr(v) for v in p.args["values"]]
                sites.append(PrintSite(i, p.loc.line, [not (a or b) for a, b in zip(early, late)]))
        result.bindings[i] = bindings
        result.prints[i] = sorted(sites, key=lambda site: site.line)
        result.tainted_at_end[i] = set(taint.tainted)
    # A print inside a function: deterministic only if the function is, and no call passes a random value.
    for cell, fname, op in function_prints:
        random = fname in taint.random_funcs or any(taint.call_args.get(fname, []))
        for site in result.prints[cell]:
            if site.in_function == fname and site.line == op.loc.line:
                site.deterministic = [not random] * len(op.args["values"])
    return result
