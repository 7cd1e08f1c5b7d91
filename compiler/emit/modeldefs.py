"""Model hooks: what a backend implements for models (see targets/*/models.py), with the shared
defaults (an unsupported construct is a compile error), and the training-mode facts a backend whose
modules start in training mode needs."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import libcst as cst

from d2lc.core import ir
from d2lc.core.layers import LAYERS
from d2lc.core.types import SeqType
from d2lc.core.diagnostics import Diagnostic, Loc
from d2lc.emit.comments import leading, with_comments
from d2lc.emit.devices import device_anchor
from d2lc.emit.errors import EmitError
from d2lc.emit.layer_inputs import top_level_stmts

if TYPE_CHECKING:
    from d2lc.emit.backend import Backend

_EQ = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
MODE_DEPENDENT_LAYERS = tuple(k for k, spec in LAYERS.items() if spec.train_dependent)  # Dropout, BatchNorm1d/2d


class ModelEmission:
    """Model definitions, layers, model calls and training; backends override what they support."""

    backend: "Backend"
    module: ir.Module
    # A new module object starts in training mode (PyTorch, Paddle): a model built at top level is put in
    # inference mode (`net.eval()`), since the DSL calls a model outside `train` for inference, as Keras,
    # flax and gluon do by default; the training helper switches it to training mode for each epoch.
    modules_start_in_training_mode: bool = False

    @contextlib.contextmanager
    def earlier_members(self, m: ir.ModelDef, member: ir.Member) -> Iterator[None]:
        """While a member's value is emitted in the constructor, the members before it (a layer reused inside a
        member Sequential) are read through `self`; hyperparameters stay the constructor's arguments."""
        saved = self.model_scope
        self.model_scope = {mm.name for mm in m.members[:m.members.index(member)] if not isinstance(mm.value, ir.LayerList)}
        try:
            yield
        finally:
            self.model_scope = saved

    # ---- layer lists (`blocks = []` and the model body's loops that append to it) ----------------------------------
    layer_loop_vars: tuple[str, ...] = ()  # the loop variables around the layer being emitted

    def list_statements(self, name: str, lst: ir.LayerList, item=None, after=None) -> list[cst.BaseStatement]:
        """`name = []` and its appends in the author's loops, as statements of the constructor (or of flax's compact
        `__call__`); `item` spells an element (default: `self.expr`), `after(target, value)` adds statements after each
        append (PyTorch's `nn.init` calls on `name[-1]`)."""
        item = item or self.expr
        target = cst.Name(name)

        def steps(sts: list) -> list[cst.BaseStatement]:
            out: list[cst.BaseStatement] = []
            for st in sts:
                if isinstance(st, ir.LayerLoop):
                    saved_vars, self.layer_loop_vars = self.layer_loop_vars, (*self.layer_loop_vars, *(st.names or (st.var,)))
                    try:
                        body = steps(st.body)
                    finally:
                        self.layer_loop_vars = saved_vars
                    var = cst.Tuple([cst.Element(cst.Name(n)) for n in st.names], lpar=[], rpar=[]) if len(st.names) > 1 else cst.Name(st.var)
                    out.extend(with_comments([], [cst.For(var, self.range_expr(st.iter), self.indented(body))], st.comments))
                    continue
                saved, self.pre = self.pre, []
                try:
                    value = item(st.value)
                    made = self.pre
                finally:
                    self.pre = saved
                # a helper's definition (Paddle's Lazy) goes before the statement; a nested gluon Sequential's lines here
                self.pre.extend(d for d in made if isinstance(d, (cst.ClassDef, cst.FunctionDef)))
                here = [d for d in made if not isinstance(d, (cst.ClassDef, cst.FunctionDef))]
                append = cst.SimpleStatementLine([cst.Expr(cst.Call(cst.Attribute(target, cst.Name("append")), [cst.Arg(value)]))])
                out.extend(with_comments(here, [append], st.comments))
                if after is not None:
                    last = cst.Subscript(target, [cst.SubscriptElement(cst.Index(cst.UnaryOperation(cst.Minus(), cst.Integer("1"))))])
                    out.extend(after(last, st.value))
            return out
        return [cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], cst.List([]))]), *steps(lst.steps)]

    def list_of_item(self, name: str) -> "ir.Member | None":
        """The layer list member a forward loop `for name in blocks:` runs over, or None."""
        m = self.current_model
        for s in ir.walk_stmts(m.forward.body) if m is not None and m.forward is not None else []:
            if isinstance(s, ir.For) and s.var == name and isinstance(s.iter, ir.Var):
                member = self.model_member(s.iter.name)
                if member is not None and isinstance(member.value, ir.LayerList):
                    return member
        return None

    def is_layer_list(self, e: ir.Expr) -> bool:
        """Whether `e` names a layer list member of the model being emitted (`blocks` in Sequential(*blocks))."""
        member = self.model_member(e.name) if isinstance(e, ir.Var) else None
        return member is not None and isinstance(member.value, ir.LayerList)

    def may_be_empty(self, children: list[ir.Expr]) -> bool:
        """Whether a Sequential of these children holds only layer lists that a hyperparameter count of 0 leaves empty
        (Keras and flax refuse to call an empty Sequential; the others pass their input through)."""
        members = [self.model_member(c.name) if isinstance(c, ir.Var) else None for c in children]
        return bool(members) and all(m is not None and isinstance(m.value, ir.LayerList) and _may_be_empty(m.value.steps)
                                     for m in members)

    def sequence_args(self, children: list[ir.Expr], item=None) -> list[cst.Arg]:
        """Sequential's arguments: one per layer, `*blocks` for a layer list."""
        item = item or self.expr
        return [cst.Arg(self.expr(c), star="*") if self.is_layer_list(c) else cst.Arg(item(c)) for c in children]

    def sequence_elements(self, children: list[ir.Expr], item=None) -> list[cst.BaseElement]:
        """Sequential's list elements: one per layer, `*blocks` for a layer list."""
        item = item or self.expr
        return [cst.StarredElement(self.expr(c)) if self.is_layer_list(c) else cst.Element(item(c)) for c in children]

    def model_def(self, m: ir.ModelDef) -> list[cst.BaseStatement]:
        self.unsupported_construct(m.loc, "model definitions")
        return []

    def method(self, m: ir.ModelDef, f: ir.FuncDef, name: str, extra: list[cst.Param],
               scope: set[str] | None = None) -> cst.FunctionDef:
        """A model's forward as a method: `self` first, members and hyperparameters read through `self`."""
        saved, saved_anchor = self.model_scope, self.device_anchor
        self.model_scope = scope if scope is not None else {hp.name for hp in m.hparams} | {mm.name for mm in m.members}
        self.device_anchor = device_anchor(f)
        try:
            fn = self.funcdef(f)
        finally:
            self.model_scope, self.device_anchor = saved, saved_anchor
        params = [cst.Param(cst.Name("self")), *fn.params.params, *extra]
        fn = fn.with_changes(name=cst.Name(name), params=cst.Parameters(params))
        c = f.comments  # a method's body may be rebuilt (flax puts the members first): its comments all go above it
        return leading(fn, (*c.before, *((c.trailing,) if c.trailing else ()))) if c is not None else fn

    def train(self, t: ir.Train) -> list[cst.BaseStatement]:
        self.unsupported_construct(t.loc, "train(...)")
        return []

    def layer(self, layer: ir.Layer) -> cst.BaseExpression:
        self.unsupported_construct(layer.loc, f"layer {layer.kind}")
        raise AssertionError

    def param_decl(self, p: ir.ParamDecl) -> cst.BaseExpression:
        self.unsupported_construct(p.loc, "param(...)")
        raise AssertionError

    def model_member(self, name: str) -> "ir.Member | None":
        m = self.current_model
        return next((mm for mm in m.members if mm.name == name), None) if m is not None else None

    def apply_layer(self, a: ir.ApplyLayer) -> cst.BaseExpression:
        return cst.Call(self.var(ir.Var(a.type, a.loc, a.member)), [cst.Arg(self.expr(x)) for x in a.args])

    def new_model(self, n: ir.NewModel) -> cst.BaseExpression:
        return cst.Call(cst.Name(n.model), [cst.Arg(self.expr(a)) for a in n.args] +
                        [cst.Arg(self.expr(v), keyword=cst.Name(k), equal=_EQ) for k, v in n.kwargs.items()])

    def call_model(self, c: ir.CallModel) -> cst.BaseExpression:
        if c.layer is not None and c.layer.kind == "Flatten":  # flattening NCHW is the DSL's order: no layout change
            return cst.Call(self.expr(c.instance), [cst.Arg(self.expr(a)) for a in c.args])
        return self.to_canonical_layout(c, cst.Call(self.expr(c.instance), [cst.Arg(self.model_input(a)) for a in c.args]))

    def construct(self, c: ir.Construct) -> cst.BaseExpression:
        self.unsupported_construct(c.loc, c.kind)
        raise AssertionError

    def unsupported_construct(self, loc: Loc, what: str) -> None:
        raise EmitError(Diagnostic(loc, f"{what} is not supported by target `{self.backend.name}`",
                                   hint="mark this cell `::: only` for other targets"))

    # ---- training mode -------------------------------------------------------------------------
    def called_for_inference(self, name: str) -> bool:
        """Whether top-level code (loops and branches included) calls the instance bound to `name` (outside `train`)."""
        return any(isinstance(e, ir.CallModel) and isinstance(e.instance, ir.Var) and e.instance.name == name
                   for st in top_level_stmts(self.module.stmts()) for e in ir.walk_exprs(st))

    def acts_differently_in_training(self, value: ir.Expr, kinds=MODE_DEPENDENT_LAYERS) -> bool:
        """Whether a new model or built-in layer holds, at any depth, a layer whose output depends on the mode (or, given
        `kinds`, a layer of one of those kinds)."""
        models = {m.name: m for m in ir.walk_stmts(list(self.module.stmts())) if isinstance(m, ir.ModelDef)}

        def visit(v, seen: frozenset[str]) -> bool:
            if isinstance(v, ir.Layer):
                return v.kind in kinds or any(visit(c, seen) for c in v.children)
            if isinstance(v, ir.LayerList):
                return any(visit(st.value, seen) for st in ir.list_steps(v.steps) if isinstance(st, ir.LayerAppend))
            if isinstance(v, ir.NewModel) and v.model in models and v.model not in seen:
                return any(visit(m.value, seen | {v.model}) for m in models[v.model].members)
            return False
        return visit(value, frozenset())

    def model_acts_differently_in_training(self, name: str) -> bool:
        """Whether the `model` block `name` holds, at any depth, a layer whose output depends on the mode."""
        models = {m.name: m for m in ir.walk_stmts(list(self.module.stmts())) if isinstance(m, ir.ModelDef)}
        return name in models and any(self.acts_differently_in_training(m.value) for m in models[name].members)

    def harness_globals(self, model: ir.ModelDef) -> list[cst.BaseStatement]:
        """Assignments the backend's harness glue reads for the model under test (build/modgen.py); none by default."""
        return []


def _may_be_empty(steps: list[ir.LayerAppend | ir.LayerLoop]) -> bool:
    """No append outside loops, and no loop known to run (a literal count, or a tuple hyperparameter's fixed length)."""
    for st in steps:
        if isinstance(st, ir.LayerAppend):
            return False
        t = getattr(st.iter, "type", None)
        passes = len(t.items) if isinstance(st.iter, ir.Var) and isinstance(t, SeqType) else _range_len(st.iter)
        if passes and not _may_be_empty(st.body):
            return False
    return True


def _range_len(rng: ir.Expr) -> int | None:
    args = {k: ir.static_value(v) for k, v in getattr(rng, "args", {}).items()}
    if not args or not all(isinstance(v, int) for v in args.values()):
        return None
    return len(range(args.get("start", 0), args["stop"], args.get("step", 1)) if "start" in args else range(args["stop"]))
