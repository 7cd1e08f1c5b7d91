"""Layer lists of a model body: `blocks = []`, `for i in range(n): blocks.append(Layer(...))`, list literals of
layers, `Sequential(*blocks)` and `for blk in blocks:` in forward; their lowering to ir.LayerList and their types.

A list's loops run over `range(...)` of hyperparameters, loop variables and literals, or over a tuple hyperparameter
with unpacking (`for num_convs, channels in arch:`, its number of passes fixed by its type): values known when the model
is built, so every target builds the same layers in the same order.
"""
from __future__ import annotations

from typing import Callable

from d2lc.front import ast as A
from d2lc.front.lower_base import LowererBase, Scope, Symbol, article
from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.diagnostics import DiagnosticBag, Loc
from d2lc.core.layers import RECURRENT_KINDS
from d2lc.core.types import ANY, INT, AnyType, LayerType, ModelType, ScalarType, SeqType, TensorType, Type

LIST_TYPE = LayerType("list")  # a model member list of layers (`blocks = []`)
ITEM_TYPE = LayerType("list item")  # the loop variable of `for blk in blocks:` in forward
CHAIN_TYPE = LayerType("list element")  # ... whose body is `X = blk(X)`: the elements applied in turn
MAX_UNROLL = 16  # a loop with a literal count up to this is typed pass by pass; others to a fixed point
APPEND_EXPECTED = "name.append(Layer(...)) or a nested `for i in range(n):`"

Container = Callable[[str], list]  # list name -> the step list (of the current loop) its appends go to
ApplyValue = Callable[[ir.Expr, TensorType, Loc], Type]  # an element applied to an input type


def is_list_start(stmt: A.Node) -> bool:
    return isinstance(stmt, A.Assign) and isinstance(stmt.target, A.Name) and isinstance(stmt.value, A.ListLit)


def is_append(stmt: A.Node) -> bool:
    v = stmt.value if isinstance(stmt, A.ExprStmt) else None
    return isinstance(v, A.Call) and isinstance(v.func, A.Attribute) and v.func.attr == "append"


class ListBuilder:
    """The layer lists of one model body while it is lowered."""

    def __init__(self, lw: LowererBase, mdef: ir.ModelDef, mscope: Scope):
        self.lw, self.mdef, self.mscope = lw, mdef, mscope
        self.lists: dict[str, ir.LayerList] = {}
        self.closed: dict[str, Loc] = {}  # a list read by a later member or by forward: no appends after that
        self.loop_vars: list[str] = []
        self.held: dict[str, str] = {}  # list name -> the member (Sequential) holding it
        self.failed = False  # an append or loop of this body was an error (an empty list then says nothing new)
        lw.layer_lists = self  # type: ignore[attr-defined]  (forward's `for blk in blocks:` checks `held`)

    def start(self, stmt: A.Assign) -> None:
        name = stmt.target.id  # type: ignore[attr-defined]
        self.lw.reserved_word(name, stmt.target.loc)
        lst = ir.LayerList(LIST_TYPE, stmt.value.loc, [])
        self.lists[name] = lst
        self.mdef.members.append(ir.Member(name, lst, stmt.loc))
        self.mscope.symbols[name] = Symbol(LIST_TYPE, layer=lst)  # type: ignore[arg-type]
        for item in stmt.value.items:  # type: ignore[attr-defined]
            self._add(name, item, item.loc, lambda n: lst.steps)

    def close_read(self, value: ir.Expr, loc: Loc, member: str) -> None:
        """The lists a member's value reads are complete from here on, and held by that member only."""
        for e in ir.walk_exprs(value):
            if isinstance(e, ir.Var) and e.name in self.lists:
                if e.name in self.held:
                    self.lw.error(e.loc, f"the layer list `{e.name}` is already held by `{self.held[e.name]}`",
                                  expected=f"one member holding `{e.name}`", hint="build a second list for the second use: its layers would be shared")
                self.held.setdefault(e.name, member)
                self.closed.setdefault(e.name, loc)


    def close_all(self, loc: Loc) -> None:
        for name in self.lists:
            self.closed.setdefault(name, loc)

    def top(self, name: str) -> list:
        return self.lists[name].steps

    def statement(self, stmt: A.Node, container: Container) -> None:
        """One statement of a loop body (or an append at the top of the model body)."""
        if is_append(stmt):
            call = stmt.value  # type: ignore[attr-defined]
            base = call.func.value
            if not isinstance(base, A.Name) or base.id not in self.lists:
                shown = base.id if isinstance(base, A.Name) else "this value"
                self.lw.error(call.func.loc, f"`{shown}` is not a layer list of this model", expected="blocks = [] before blocks.append(...)",
                              hint="start the list with `name = []` in the model body")
                return
            if len(call.args) != 1 or call.kwargs:
                self.lw.error(call.loc, "`append` takes one layer", expected="blocks.append(Layer(...))", hint="append layers one at a time")
                return
            self._add(base.id, call.args[0], call.loc, container)
        elif isinstance(stmt, A.For):
            self.loop(stmt, container)
        elif isinstance(stmt, A.Pass):
            return
        else:
            self.lw.error(stmt.loc, "a loop in a model body appends layers to lists", expected=APPEND_EXPECTED,
                          hint="compute a size inside the layer's arguments from the loop variable, e.g. Linear(num_hiddens * (i + 1))")

    def _add(self, name: str, node: A.Node, loc: Loc, container: Container) -> None:
        if name in self.closed:
            self.lw.error(loc, f"`{name}` is appended to after its use (line {self.closed[name].line})",
                          expected=f"every `{name}.append(...)` before the member or `def forward` that reads `{name}`",
                          hint="move the appends up: a layer list is complete once a member or forward reads it")
            return
        value = self.lw.expr(node)
        if isinstance(value, ir.Layer) and value.kind in RECURRENT_KINDS:
            self.lw.error(value.loc, f"a layer list cannot hold the recurrent layer `{value.kind}`",
                          expected="layers that return one tensor, or model instances",
                          hint="recurrent layers return their states too: make it a member of its own, or wrap it in a model")
            return
        if not isinstance(value, (ir.Layer, ir.NewModel)):
            if not isinstance(value.type, AnyType):
                self.lw.error(value.loc, f"a layer list holds new layers and model instances, got {article(value.type)}",
                              expected="blocks.append(Conv2d(...)) or blocks.append(MyBlock(...))",
                              hint="append a new layer; a member appended again would share its parameters")
            return
        container(name).append(ir.LayerAppend(value, loc))

    def loop(self, s: A.For, container: Container) -> None:
        names = list(s.targets)
        if isinstance(s.iter, A.Name):
            rng, kinds = self._tuple_iter(s.iter, len(names))
        elif len(names) != 1:
            self.lw.error(s.loc, "a loop over `range(...)` in a model body takes one loop variable", expected="for i in range(n):",
                          hint="unpack the items of a tuple hyperparameter: `for num_convs, channels in arch:`")
            return
        else:
            rng, kinds = self._range(s.iter), [INT]
        if rng is None:
            return
        col = s.loc.col + 4
        for var in names:
            vloc = Loc(s.loc.file, s.loc.line, col, col + len(var))
            col += len(var) + 2
            if var in {p.name for p in self.mdef.hparams} | {m.name for m in self.mdef.members}:
                self.lw.error(vloc, f"the loop variable `{var}` hides the model's own `{var}`", expected="a name of its own, e.g. `i`",
                              hint="a hyperparameter or member keeps its name in the whole model")
                return
            if self.lw.reserved_word(var, vloc):
                return
        made: dict[str, ir.LayerLoop] = {}

        def inner(name: str) -> list:
            if name not in made:
                made[name] = ir.LayerLoop(names[0], rng, [], s.loc, tuple(names) if isinstance(rng, ir.Var) else ())
                container(name).append(made[name])
            return made[name].body

        saved = {var: self.mscope.symbols.get(var) for var in names}
        for var, kind in zip(names, kinds):
            self.mscope.symbols[var] = Symbol(kind)
        self.loop_vars.extend(v for v, k in zip(names, kinds) if k == INT)
        try:
            for st in s.body:
                self.statement(st, inner)
        finally:
            del self.loop_vars[len(self.loop_vars) - sum(k == INT for k in kinds):]
            for var, old in saved.items():
                if old is None:
                    self.mscope.symbols.pop(var, None)
                else:
                    self.mscope.symbols[var] = old
        if not made and not self.lw.diags.items:
            self.lw.error(s.loc, "this loop appends no layers", expected=APPEND_EXPECTED,
                          hint="a model body's loops build layer lists: start one with `blocks = []`")

    def _tuple_iter(self, it: A.Name, n: int) -> tuple[ir.Expr | None, list[Type]]:
        """`for num_convs, channels in arch:` over a tuple hyperparameter whose items are tuples of n ints (or, with one
        name, ints): its structure is fixed by its default, so the loop's passes are known when the chapter compiles."""
        hp = next((p for p in self.mdef.hparams if p.name == it.id), None)
        t = hp.type if hp is not None else None
        shape = f"tuple of {n}-int tuples" if n > 1 else "tuple of ints"
        if hp is None or not isinstance(t, SeqType) or t.kind != "tuple":
            what = f"the hyperparameter `{it.id}` is {article(t)}" if hp is not None else f"`{it.id}` is not a hyperparameter"
            self.lw.error(it.loc, f"a loop in a model body runs over `range(...)` or a tuple hyperparameter; {what}",
                          expected="for i in range(num_layers): or for num_convs, channels in arch:",
                          hint=f"count with `for i in range({it.id}):`" if t == INT else
                          "make it a hyperparameter with a tuple default, e.g. arch: tuple = ((1, 64), (2, 128))")
            return None, []
        ok = bool(t.items) and all(item == INT if n == 1 else isinstance(item, SeqType) and item.items == (INT,) * n for item in t.items)
        if not ok:
            self.lw.error(it.loc, f"`{it.id}` is {t}, not a {shape} that `for {', '.join(['_'] * n)} in {it.id}:` unpacks",
                          expected=f"a non-empty {shape}, e.g. " + ("((1, 64), (2, 128))" if n == 2 else "(64, 128)" if n == 1 else f"(({', '.join(['1'] * n)}),)"),
                          hint="a layer loop's values size layers: give every item the same number of int values as the loop has names")
            return None, []
        return ir.Var(t, it.loc, it.id), [INT] * n

    def _range(self, it: A.Node) -> ir.Op | None:
        if not (isinstance(it, A.Call) and isinstance(it.func, A.Name) and it.func.id == "range"):
            self.lw.error(it.loc, "a loop in a model body runs over `range(...)`", expected="for i in range(num_layers):",
                          hint="the count is a hyperparameter or a number, known when the model is built")
            return None
        if not 1 <= len(it.args) <= 3 or it.kwargs:
            self.lw.error(it.loc, f"`range` takes 1 to 3 positional arguments, got {len(it.args) + len(it.kwargs)}",
                          expected="range(stop) or range(start, stop[, step])", hint="pass the bounds positionally")
            return None
        args = [self.lw.expr(a) for a in it.args]
        known = {p.name for p in self.mdef.hparams} | set(self.loop_vars)
        for a in args:
            if not all(isinstance(e.type, ScalarType) and e.type.kind == "int" and (not isinstance(e, ir.Var) or e.name in known)
                       for e in ir.walk_exprs(a)):
                self.lw.error(a.loc, "a model body's loop bounds are ints from hyperparameters, loop variables and numbers",
                              expected="an int hyperparameter, e.g. range(num_convs)", hint="add the count to the model's hyperparameters")
                return None
        names = ["start", "stop", "step"] if len(args) > 1 else ["stop"]
        return ir.Op(SeqType((INT,)), it.loc, "range", dict(zip(names, args)))


def lower_list_for(lw: LowererBase, s: A.For) -> ir.Stmt | None:
    """`for blk in blocks:` in forward, over a layer list member; `blk(X)` applies each element in turn."""
    name = s.iter.id  # type: ignore[attr-defined]
    sym = lw.scope.lookup(name)
    if len(s.targets) != 1:
        lw.error(s.loc, "a loop over a layer list takes one loop variable", expected=f"for blk in {name}:")
        return None
    var = s.targets[0]
    if lw.reserved_word(var, Loc(s.loc.file, s.loc.line, s.loc.col + 4, s.loc.col + 4 + len(var))):
        return None
    held = getattr(getattr(lw, "layer_lists", None), "held", {})
    if name in held:
        lw.error(s.iter.loc, f"the layer list `{name}` is held by `{held[name]}`", expected=f"`for blk in {name}:` over a list no member holds",
                 hint=f"apply `{held[name]}` instead, or build a second list: its layers would be shared")
        return None
    chain = len(s.body) == 1 and isinstance(s.body[0], A.Assign) and isinstance(s.body[0].target, A.Name) \
        and isinstance(s.body[0].value, A.Call) and isinstance(s.body[0].value.func, A.Name) and s.body[0].value.func.id == var \
        and len(s.body[0].value.args) == 1 and isinstance(s.body[0].value.args[0], A.Name) \
        and s.body[0].value.args[0].id == s.body[0].target.id and not s.body[0].value.kwargs
    lw.scope.symbols[var] = Symbol(CHAIN_TYPE if chain else ITEM_TYPE, layer=sym.layer)
    lw._in_loop += 1  # type: ignore[attr-defined]
    try:
        lw._forget_consts(s.body)  # type: ignore[attr-defined]
        body = lw.block(s.body)  # type: ignore[attr-defined]
    finally:
        lw._in_loop -= 1  # type: ignore[attr-defined]
    return ir.For(s.loc, var, ir.Var(LIST_TYPE, s.iter.loc, name), body)


def is_list_iter(lw: LowererBase, it: A.Node) -> bool:
    sym = lw.scope.lookup(it.id) if isinstance(it, A.Name) and lw.current_model is not None else None
    return sym is not None and sym.type == LIST_TYPE


# ---- types ------------------------------------------------------------------------------------------------------
def join(a: Type, b: Type) -> Type:
    """A type that holds for both: dimensions that differ become unknown; a different dtype or rank, ANY."""
    if a == b:
        return a
    if isinstance(a, TensorType) and isinstance(b, TensorType) and a.dtype == b.dtype and a.rank == b.rank:
        return TensorType(a.dtype, tuple(x if x == y else None for x, y in zip(a.shape, b.shape)))
    return ANY


def static_count(rng: ir.Expr) -> int | None:
    if isinstance(rng, ir.Var) and isinstance(rng.type, SeqType):  # a tuple hyperparameter: its length is its type's
        return len(rng.type.items)
    args = {k: static_value(v) for k, v in getattr(rng, "args", {}).items()}
    if not all(isinstance(v, int) for v in args.values()):
        return None
    r = range(args.get("start", 0), args["stop"], args.get("step", 1)) if "start" in args else range(args["stop"])
    return len(r)


def _collect(lw: LowererBase, run: Callable[[], Type]) -> Type:
    """Run a typing pass with its errors reported once each (a loop's body is typed several times)."""
    saved, lw.diags = lw.diags, DiagnosticBag()
    try:
        t = run()
        found = lw.diags.items
    finally:
        lw.diags = saved
    known = {(d.loc, d.message) for d in saved.items}
    for d in found:
        if (d.loc, d.message) not in known:
            saved.items.append(d)
            known.add((d.loc, d.message))
    return t


def _quiet(lw: LowererBase, run: Callable[[], Type]) -> Type:
    """A typing pass whose errors are dropped: `blk(X)` types every element against the same input, where forward may
    give each element a different one (X = blk(X)); a shape an element cannot take fails in every framework alike."""
    saved, lw.diags = lw.diags, DiagnosticBag()
    try:
        return run()
    finally:
        lw.diags = saved


def apply_steps(lw: LowererBase, steps: list, t: Type, loc: Loc, apply_value: ApplyValue) -> Type:
    """The output type of a layer list's elements applied one after another (`Sequential(*blocks)`)."""
    for st in steps:
        if not isinstance(t, TensorType):
            return ANY
        if isinstance(st, ir.LayerAppend):
            t = apply_value(st.value, t, st.value.loc)
            continue
        count = static_count(st.iter)
        saved, lw.layer_inputs = lw.layer_inputs, {}  # each pass of a loop makes new layers
        try:
            if count is not None and count <= MAX_UNROLL:
                for _ in range(count):
                    t = _collect(lw, lambda t=t: apply_steps(lw, st.body, t, loc, apply_value))
                continue
            cur = t  # an unknown count (0 included): the join of every number of passes, to a fixed point
            for _ in range(4):
                nxt = join(cur, _collect(lw, lambda cur=cur: apply_steps(lw, st.body, cur, loc, apply_value)))
                if nxt == cur:
                    break
                cur = nxt
            else:
                cur = ANY
            t = cur
        finally:
            lw.layer_inputs = saved
    return t


def apply_item(lw: LowererBase, lst: ir.LayerList, x: Type, loc: Loc, apply_value: ApplyValue) -> Type:
    """`blk(X)` for `blk` in a layer list: a type that holds for every element."""
    out: Type | None = None
    saved, lw.layer_inputs = lw.layer_inputs, {}
    try:
        for st in ir.list_steps(lst.steps):
            if isinstance(st, ir.LayerAppend) and isinstance(x, TensorType):
                t = _quiet(lw, lambda st=st: apply_value(st.value, x, loc))
                out = t if out is None else join(out, t)
    finally:
        lw.layer_inputs = saved
    return out if out is not None else ANY


def is_instance(t: Type) -> bool:
    return isinstance(t, ModelType) and not t.is_class
