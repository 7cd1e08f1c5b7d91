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
from d2lc.core.diagnostics import Diagnostic, Loc
from d2lc.emit.errors import EmitError

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
        self.model_scope = {mm.name for mm in m.members[:m.members.index(member)]}
        try:
            yield
        finally:
            self.model_scope = saved

    def model_def(self, m: ir.ModelDef) -> list[cst.BaseStatement]:
        self.unsupported_construct(m.loc, "model definitions")
        return []

    def method(self, m: ir.ModelDef, f: ir.FuncDef, name: str, extra: list[cst.Param],
               scope: set[str] | None = None) -> cst.FunctionDef:
        """A model's forward as a method: `self` first, members and hyperparameters read through `self`."""
        saved = self.model_scope
        self.model_scope = scope if scope is not None else {hp.name for hp in m.hparams} | {mm.name for mm in m.members}
        try:
            fn = self.funcdef(f)
        finally:
            self.model_scope = saved
        params = [cst.Param(cst.Name("self")), *fn.params.params, *extra]
        return fn.with_changes(name=cst.Name(name), params=cst.Parameters(params))

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
        def top_level(stmts) -> Iterator[ir.Stmt]:
            for st in stmts:
                if isinstance(st, (ir.ModelDef, ir.FuncDef)):
                    continue
                yield st
                if isinstance(st, (ir.For, ir.If)):
                    yield from top_level(st.body + (st.orelse if isinstance(st, ir.If) else []))
        return any(isinstance(e, ir.CallModel) and isinstance(e.instance, ir.Var) and e.instance.name == name
                   for st in top_level(self.module.stmts()) for e in ir.walk_exprs(st))

    def acts_differently_in_training(self, value: ir.Expr) -> bool:
        """Whether a new model or built-in layer holds, at any depth, a layer whose output depends on the mode."""
        models = {m.name: m for m in ir.walk_stmts(list(self.module.stmts())) if isinstance(m, ir.ModelDef)}

        def visit(v, seen: frozenset[str]) -> bool:
            if isinstance(v, ir.Layer):
                return v.kind in MODE_DEPENDENT_LAYERS or any(visit(c, seen) for c in v.children)
            if isinstance(v, ir.NewModel) and v.model in models and v.model not in seen:
                return any(visit(m.value, seen | {v.model}) for m in models[v.model].members)
            return False
        return visit(value, frozenset())
