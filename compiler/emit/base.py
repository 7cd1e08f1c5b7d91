"""The shared emitter: walks typed IR and builds libcst trees, asking the backend's table for each op.

Backends subclass `Emitter` only for what a table cannot say: gradients, element assignment,
random draws and the notebook prelude.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import libcst as cst
from libcst.helpers import parse_template_expression, parse_template_statement

from d2lc.core import ir
from d2lc.core.diagnostics import Diagnostic, Loc
from d2lc.core.ops import SPECS
from d2lc.core.types import NONE, DType, ScalarType, TensorType, promote
from d2lc.emit.fmt import attr, binop, compare, format_code, parse_snippet, render, sub, unary
from d2lc.emit.rules import call, dotted

SHARED_SNIPPETS = Path(__file__).parent / "snippets"  # helpers every target emits the same way (plot_history)


@lru_cache(maxsize=1)
def shared_snippets() -> tuple[tuple[str, str], ...]:
    """(name, source) of every shared helper snippet, read once per process."""
    return tuple((p.stem, p.read_text(encoding="utf-8")) for p in sorted(SHARED_SNIPPETS.glob("*.py")))

if TYPE_CHECKING:
    from d2lc.emit.backend import Backend


class EmitError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


ELEMENTWISE = {n for n, s in SPECS.items() if s.category == "elementwise"}


MODE_DEPENDENT_LAYERS = ("Dropout", "BatchNorm1d", "BatchNorm2d")  # layers that act differently while training


class Emitter:
    """Emits one module (a chapter or a set of functions) for one backend."""

    # A new module object starts in training mode (PyTorch, Paddle): a model built at top level is put in
    # inference mode (`net.eval()`), since the DSL calls a model outside `train` for inference, as Keras,
    # flax and gluon do by default; the training helper switches it to training mode for each epoch.
    modules_start_in_training_mode: bool = False

    def __init__(self, backend: "Backend", module: ir.Module):
        self.backend = backend
        self.module = module
        self.pre: list[cst.BaseStatement] = []
        facts = _module_facts(module)
        self.taken: set[str] = set(facts.names)
        self.user_names: set[str] = set(facts.names)
        self.in_function: ir.FuncDef | None = None
        self.grad_seen: set[str] = set()
        self.state: dict[str, Any] = {}
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

    # ---- values ------------------------------------------------------------------------------
    def dtype_expr(self, dtype: DType) -> cst.BaseExpression:
        return cst.parse_expression(self.backend.dtypes[self.effective(dtype)])

    def literal(self, v: Any) -> cst.BaseExpression:
        if isinstance(v, bool) or v is None:
            return cst.Name(repr(v))
        if isinstance(v, int):
            return cst.Integer(str(v)) if v >= 0 else unary(cst.Minus(), cst.Integer(str(-v)))
        if isinstance(v, float):
            text = repr(abs(v))
            node = cst.Float(text) if ("." in text or "e" in text) and text not in ("inf", "nan") else cst.parse_expression(f"float('{text}')")
            return unary(cst.Minus(), node) if v < 0 or (v == 0 and str(v).startswith("-")) else node
        if isinstance(v, str):
            return cst.SimpleString(repr(v))
        if isinstance(v, DType):
            return self.dtype_expr(v)
        if isinstance(v, tuple):
            return cst.Tuple([cst.Element(self.literal(i)) for i in v])
        if isinstance(v, list):
            return cst.List([cst.Element(self.literal(i)) for i in v])
        raise TypeError(f"cannot emit literal {v!r}")

    def value(self, v: Any, param: str = "") -> cst.BaseExpression:
        """An op argument: an IR expression, or a static value."""
        if isinstance(v, ir.Expr):
            return self.expr(v)
        return self.literal(v)

    def arg(self, node: ir.Op, name: str) -> cst.BaseExpression:
        """An op argument as code: tensors go through `operand`, static values become literals."""
        v = node.args.get(name)
        spec = SPECS.get(node.op)
        kind = next((p.kind for p in spec.params if p.name == name), None) if spec else None
        if isinstance(v, ir.Expr) and (kind == "tensor" or (kind == "scalar" and spec.number_operands)):
            return self.operand(node, name)
        if kind == "axis" and v is not None and self.channels_last():
            rank = _rank_of(node)
            if rank == 4:
                return self.literal(_nhwc_axis(_static(v)))
        if kind == "shape" and isinstance(v, ir.Seq) and len(v.items) == 4 and self.channels_last():
            return self.value(self.layout_shape(v), name)
        return self.value(v, name)

    # ---- channels-last models: inside a model, a rank-4 value is an NCHW activation in the DSL --------
    in_model = False

    def channels_last(self) -> bool:
        return self.in_model and self.backend.layouts.activations == "NHWC"

    def layout_shape(self, shape: ir.Expr) -> ir.Expr:
        """A rank-4 shape written NCHW, in this backend's activation layout."""
        if self.channels_last() and isinstance(shape, ir.Seq) and len(shape.items) == 4:
            items = shape.items
            return ir.Seq(shape.type, shape.loc, [items[0], items[2], items[3], items[1]], shape.kind)
        return shape

    def operand(self, node: ir.Op, name: str) -> cst.BaseExpression:
        """A tensor operand, cast first where the backend's promotion differs from the IR's.

        Integer literals in a float computation are written as floats (`where(c, x, 0)` -> `0.0`),
        which every framework reads the same way.
        """
        e = node.args[name]
        want = self.compute_dtype(node)
        if isinstance(e, ir.Const) and isinstance(e.value, int) and not isinstance(e.value, bool) \
                and want is not None and want.is_float and getattr(SPECS.get(node.op), "number_operands", False):
            return self.literal(float(e.value))
        code = self.expr(e)
        if node.op in self.backend.cast_operands and isinstance(e.type, TensorType) and name != "cond":
            if want is not None and self.effective(e.type.dtype) != self.effective(want):
                return self.cast(code, e, want)
        return code

    def effective(self, dtype: DType) -> DType:
        """The dtype this target really computes in for an IR dtype (JAX without x64: int64 -> int32)."""
        return dtype

    def compute_dtype(self, node: ir.Op) -> DType | None:
        promotes = getattr(SPECS.get(node.op), "promotes_operands", False)  # comparisons, where
        if not isinstance(node.type, TensorType) and not promotes:
            return None
        if promotes:
            x, y = node.args.get("x"), node.args.get("y")
            if x is not None and y is not None and (isinstance(x.type, TensorType) or isinstance(y.type, TensorType)):
                return promote(x.type, y.type)
            return None
        return node.type.dtype if isinstance(node.type, TensorType) else None

    def cast(self, code: cst.BaseExpression, e: ir.Expr, dtype: DType) -> cst.BaseExpression:
        fake = ir.Op(TensorType(dtype, e.type.shape), e.loc, "astype",
                     {"x": _Emitted(e.type, e.loc, code), "dtype": ir.Const(ScalarType("dtype"), e.loc, dtype)})
        return self.backend.ops["astype"].emit(self, fake)

    def natural_dtype(self, node: ir.Op) -> DType | None:
        natural = self.backend.natural_dtype(node)
        return self.effective(natural) if natural is not None else None

    # ---- expressions -------------------------------------------------------------------------
    def expr(self, e: ir.Expr) -> cst.BaseExpression:
        if isinstance(e, _Emitted):
            return e.code
        if isinstance(e, ir.Const):
            return self.literal(e.value)
        if isinstance(e, ir.Var):
            return self.var(e)
        if isinstance(e, ir.Seq):
            items = [cst.Element(self.expr(i)) for i in e.items]
            return cst.List(items) if e.kind == "list" else cst.Tuple(items)
        if isinstance(e, ir.CallFunc):
            return cst.Call(cst.Name(e.func), [cst.Arg(self.expr(a)) for a in e.args])
        if isinstance(e, ir.Grad):
            return self.grad(e)
        if isinstance(e, ir.Var) is False and type(e).__name__ in MODEL_EXPRS:
            return getattr(self, MODEL_EXPRS[type(e).__name__])(e)
        if isinstance(e, ir.Op):
            return self.op(e)
        raise TypeError(f"cannot emit {type(e).__name__}")

    def op(self, node: ir.Op) -> cst.BaseExpression:
        if node.op in GENERIC:
            return GENERIC[node.op](self, node)
        rule = self.backend.ops.get(node.op)
        if rule is None:
            self.unsupported(node)
        if isinstance(node.type, ScalarType) and node.op in ELEMENTWISE and all(
                not isinstance(a.type, TensorType) for a in node.tensor_args()):
            return _PYTHON_SCALAR_RULES[node.op](self, node) if node.op in _PYTHON_SCALAR_RULES else rule.emit(self, node)
        return rule.emit(self, node)

    def index(self, items: list) -> cst.BaseSlice | list[cst.SubscriptElement]:
        out = []
        for it in items:
            if isinstance(it, ir.IndexSlice):
                out.append(cst.SubscriptElement(cst.Slice(
                    lower=self.expr(it.start) if it.start is not None else None,
                    upper=self.expr(it.stop) if it.stop is not None else None,
                    step=self.expr(it.step) if it.step is not None else None)))
            elif isinstance(it, ir.IndexEllipsis):
                out.append(cst.SubscriptElement(cst.Index(cst.Ellipsis())))
            else:
                out.append(cst.SubscriptElement(cst.Index(self.expr(it))))
        return out

    def subscript(self, base: cst.BaseExpression, items: list) -> cst.Subscript:
        return sub(base, self.index(items))

    # ---- hooks that differ per framework -----------------------------------------------------
    def grad(self, g: ir.Grad) -> cst.BaseExpression:
        self.unsupported(g, "this target declares no gradient emission")
        raise AssertionError

    def writes_functionally(self, s: ir.IndexAssign) -> bool:
        """Whether this element write makes a new tensor (JAX always; others where a gradient reads it)."""
        return self.backend.functional_updates

    def differentiated(self, s: ir.IndexAssign) -> bool:
        """Whether a gradient differentiates through this element write (see passes.differentiated_writes)."""
        if "differentiated" not in self.state:
            from d2lc.passes.analysis import differentiated_writes
            self.state["differentiated"] = differentiated_writes(self.module)
        return id(s) in self.state["differentiated"]

    def index_assign(self, s: ir.IndexAssign) -> list[cst.BaseStatement]:
        target = self.subscript(cst.Name(s.name), s.index)
        stmts = []
        if s.may_alias and id(s) not in self.copied_writes:
            stmts.append(self.copy_of(s.name, s.target_type, s.loc))
        stmts.append(cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(target)], self.assign_value(s))]))
        return stmts

    def copy_of(self, name: str, type_, loc) -> cst.BaseStatement:
        """`name = name.clone()`: a tensor of its own before its elements are written."""
        return self.assign(name, self.backend.ops["clone"].emit(self, _op("clone", type_, loc, x=ir.Var(type_, loc, name))))

    def loop_copies(self, s: "ir.For") -> dict[str, list["ir.IndexAssign"]]:
        """The tensors a loop writes elements of that may share memory with another name only from before the
        loop (a function's parameter): one copy before the loop does, not one per pass. name -> its writes."""
        if self.backend.functional_updates:
            return {}
        from d2lc.passes.analysis import VIEW_OPS
        inner = list(ir.walk_stmts(s.body))
        assigned = {b.name for b in inner if isinstance(b, ir.Assign)} | {s.var}

        def source(e):
            while isinstance(e, ir.Op) and e.op in VIEW_OPS:
                e = e.args["x"]
            return e.name if isinstance(e, ir.Var) else None

        shared_inside = {source(b.value) for b in inner if isinstance(b, ir.Assign)}  # `Z = Y` in the loop: copy per pass
        out: dict[str, list[ir.IndexAssign]] = {}
        for b in inner:
            if isinstance(b, ir.IndexAssign) and b.name not in assigned and b.name not in shared_inside \
                    and not self.writes_functionally(b):
                out.setdefault(b.name, []).append(b)
        return {n: ws for n, ws in out.items() if any(w.may_alias and id(w) not in self.copied_writes for w in ws)}

    def assign_value(self, s: ir.IndexAssign) -> cst.BaseExpression:
        v = s.value
        if isinstance(v, ir.Const) and isinstance(s.target_type, TensorType) and s.target_type.dtype.is_float and isinstance(v.value, int) \
                and not isinstance(v.value, bool):
            return self.literal(float(v.value))
        return self.expr(v)

    # ---- models: backends implement these (see targets/*/models.py) ---------------------------
    def var(self, e: ir.Var) -> cst.BaseExpression:
        """A name; inside a model's forward, members and hyperparameters become attributes."""
        if self.model_scope is not None and e.name in self.model_scope:
            return attr(cst.Name("self"), cst.Name(e.name))
        return cst.Name(e.name)

    model_scope: set[str] | None = None

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
        m = self.state.get("model")
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

    def model_input(self, a: ir.Expr) -> cst.BaseExpression:
        """A model's image input, written NCHW in the DSL, in this backend's activation layout."""
        code = self.expr(a)
        if self.backend.layouts.activations == "NHWC" and isinstance(a.type, TensorType) and a.type.rank == 4:
            return self._permute(code, a, (0, 2, 3, 1))
        return code

    def to_canonical_layout(self, c: ir.Expr, code: cst.BaseExpression) -> cst.BaseExpression:
        if self.backend.layouts.activations == "NHWC" and isinstance(c.type, TensorType) and c.type.rank == 4:
            return self._permute(code, c, (0, 3, 1, 2))
        return code

    def _permute(self, code: cst.BaseExpression, e: ir.Expr, axes: tuple[int, ...]) -> cst.BaseExpression:
        from d2lc.core.types import INT, SeqType
        perm = ir.Seq(SeqType((INT,) * 4), e.loc, [ir.Const(INT, e.loc, i) for i in axes])
        node = ir.Op(e.type, e.loc, "transpose", {"x": _Emitted(e.type, e.loc, code), "axes": perm})
        return self.backend.ops["transpose"].emit(self, node)

    def construct(self, c: ir.Construct) -> cst.BaseExpression:
        self.unsupported_construct(c.loc, c.kind)
        raise AssertionError

    def unsupported_construct(self, loc: Loc, what: str) -> None:
        raise EmitError(Diagnostic(loc, f"{what} is not supported by target `{self.backend.name}`",
                                   hint="mark this cell `::: only` for other targets"))

    def helper(self, name: str, code: str) -> None:
        """Emit a helper definition (a snippet's source) once per notebook, before the current statement."""
        emitted = self.state.setdefault("helpers", set())
        if name in emitted:
            return
        emitted.add(name)
        for stem, shared in shared_snippets():  # framework-neutral helpers a snippet calls come first
            if stem != name and f"{stem}(" in code:
                self.helper(stem, shared)
        self.pre.extend(parse_snippet(code))

    def prelude(self) -> list[str]:
        """Statements after the imports, e.g. `npx.set_np()`."""
        return []

    def expr_statement(self, s: ir.ExprStmt) -> list[cst.BaseStatement]:
        return [cst.SimpleStatementLine([cst.Expr(self.expr(s.value))])]

    # ---- statements --------------------------------------------------------------------------
    def assign(self, name: str, value: cst.BaseExpression) -> cst.SimpleStatementLine:
        return cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(name))], value)])

    def stmt(self, s: ir.Stmt) -> list[cst.BaseStatement]:
        saved, self.pre = self.pre, []
        saved_stmt, self.current_stmt = self.current_stmt, s
        try:
            body = self._stmt(s)
            return self.pre + body
        finally:
            self.pre, self.current_stmt = saved, saved_stmt

    current_stmt: ir.Stmt | None = None

    def joined_wrts(self, g: ir.Grad) -> list[str]:
        """The variables of later grads that read g's backward pass (see passes.shared_backward), in order."""
        return [h.wrt.name for h in self._later_grads if self.shared_backward.get(id(h)) is g]

    @property
    def _later_grads(self) -> list[ir.Grad]:
        if "all_grads" not in self.state:
            from d2lc.passes.analysis import grads_in
            self.state["all_grads"] = [e for st in ir.walk_stmts(list(self.module.stmts())) for e in grads_in(st)]
        return self.state["all_grads"]

    def reads_earlier_backward(self, g: ir.Grad) -> bool:
        """Whether g's gradient is already in `.grad` from the backward pass of the grad just before it."""
        root = self.shared_backward.get(id(g))
        return root is not None and id(root) in self.recorded

    def kept_grad(self, g: ir.Grad, buffer: cst.BaseExpression) -> cst.BaseExpression:
        """`buffer` (x.grad), or a name holding it when a later gradient of the same statement refills x.grad."""
        if not self.grad_again_later(g):
            return buffer
        name = self.fresh(f"{g.wrt.name}_grad")
        self.pre.append(self.assign(name, buffer))
        return cst.Name(name)

    def grad_again_later(self, g: ir.Grad) -> bool:
        """Whether the statement being emitted takes another gradient with respect to g's variable after g
        (then a target that reads gradients from `x.grad` must keep g's before the next backward pass)."""
        from d2lc.passes.analysis import grads_in
        s = self.current_stmt
        if s is None or isinstance(s, (ir.For, ir.If, ir.FuncDef)):
            return False
        grads = grads_in(s)
        i = next((k for k, h in enumerate(grads) if h is g), None)
        return i is not None and any(h.wrt.name == g.wrt.name for h in grads[i + 1:])

    def block(self, stmts: list[ir.Stmt]) -> list[cst.BaseStatement]:
        return self.sequence(stmts) or [cst.SimpleStatementLine([cst.Pass()])]

    def sequence(self, stmts: list[ir.Stmt]) -> list[cst.BaseStatement]:
        """Statements in order; a run that a later grad records in place goes through `record`."""
        from d2lc.passes.analysis import grads_in
        out: list[cst.BaseStatement] = []
        i = 0
        while i < len(stmts):
            g = self.recorded_runs.get(id(stmts[i]))
            end = i + len(g.slice) if g is not None else i
            if g is not None and end < len(stmts) and any(e is g for e in grads_in(stmts[end])) \
                    and not any(isinstance(e, ir.Grad) for e in ir.walk_exprs(g.y)):
                self.follows_run.add(id(g))  # the grad is in the very next statement: y may be computed with the run
            if g is not None and self.records_inplace(g):
                out.extend(self.record(g, [s for s in self._run(g)]))
                self.recorded.add(id(g))
                i += len(g.slice)
                continue
            out.extend(self.stmt(stmts[i]))
            i += 1
        return out

    def _run(self, g: ir.Grad) -> list[cst.BaseStatement]:
        out: list[cst.BaseStatement] = []
        for s in g.slice:
            out.extend(self.stmt(s))
        return out

    def recorded_value(self, g: ir.Grad, run: list[cst.BaseStatement], scratch=None) -> cst.BaseExpression:
        """y as code; an expression y is computed inside the recording too, as `value = ...` at the end of `run`."""
        y = self.expr(g.y)
        if isinstance(g.y, ir.Var):
            return y
        name = (scratch or self.scratch)("value")
        run.append(self.assign(name, y))
        return cst.Name(name)

    def records_inplace(self, g: ir.Grad) -> bool:
        """Whether this backend records the grad's slice where it stands (see `record`)."""
        return False

    def record(self, g: ir.Grad, run: list[cst.BaseStatement]) -> list[cst.BaseStatement]:
        """Emit the slice `run` where it stands, prepared for differentiation (a tape, requires_grad_)."""
        return run

    def indented(self, stmts: list[cst.BaseStatement]) -> cst.IndentedBlock:
        return cst.IndentedBlock(stmts or [cst.SimpleStatementLine([cst.Pass()])])

    def _stmt(self, s: ir.Stmt) -> list[cst.BaseStatement]:
        if isinstance(s, ir.Assign):
            out = [self.assign(s.name, self.expr(s.value))]
            if self.modules_start_in_training_mode and not (self.in_model or self.in_function) \
                    and self.acts_differently_in_training(s.value) and self.called_for_inference(s.name):
                out.append(cst.SimpleStatementLine([cst.Expr(call(f"{s.name}.eval"))]))
            return out
        if isinstance(s, ir.IndexAssign):
            return self.index_assign(s)
        if isinstance(s, ir.ExprStmt):
            return self.expr_statement(s)
        if isinstance(s, ir.Pass):
            return [cst.SimpleStatementLine([cst.Pass()])]
        if isinstance(s, ir.Return):
            return [cst.SimpleStatementLine([cst.Return(self.expr(s.value) if s.value is not None else None)])]
        if isinstance(s, ir.For):
            copies = self.loop_copies(s)
            self.copied_writes |= {id(w) for ws in copies.values() for w in ws}
            before = [self.copy_of(n, ws[0].target_type, ws[0].loc) for n, ws in copies.items()]
            return [*before, cst.For(cst.Name(s.var), self.range_expr(s.iter), self.indented(self.block(s.body)))]
        if isinstance(s, ir.If):
            return [self._if(s)]
        if isinstance(s, ir.FuncDef):
            return [self.funcdef(s)]
        if isinstance(s, ir.ModelDef):
            saved, self.in_model = self.in_model, True
            self.state["model"] = s
            try:
                return self.model_def(s)
            finally:
                self.in_model = saved
                self.state["model"] = None
        if isinstance(s, ir.Train):
            return self.train(s)
        raise TypeError(f"cannot emit {type(s).__name__}")

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

    def _if(self, s: ir.If) -> cst.If:
        orelse = None
        if s.orelse:
            if len(s.orelse) == 1 and isinstance(s.orelse[0], ir.If):
                orelse = self._if(s.orelse[0])
            else:
                orelse = cst.Else(self.indented(self.block(s.orelse)))
        return cst.If(self.expr(s.cond), self.indented(self.block(s.body)), orelse)

    def range_expr(self, it: ir.Op) -> cst.BaseExpression:
        return cst.Call(cst.Name("range"), [cst.Arg(self.expr(v)) for v in it.args.values() if v is not None])

    def funcdef(self, f: ir.FuncDef) -> cst.FunctionDef:
        outer, self.in_function = self.in_function, f
        saved_grads, self.grad_seen = self.grad_seen, set()
        try:
            params = [cst.Param(cst.Name(p.name), default=self.expr(p.default) if p.default is not None else None)
                      for p in f.params]
            body = self.block(f.body)
        finally:
            self.in_function = outer
            self.grad_seen = saved_grads
        return cst.FunctionDef(cst.Name(f.name), cst.Parameters(params), self.indented(body))

    # ---- whole modules -----------------------------------------------------------------------
    def cell_code(self, stmts: list[ir.Stmt]) -> str:
        return render(self.sequence(stmts))

    def imports_for(self, code: str) -> list[str]:
        """The import lines the given code needs, in the backend's declared order."""
        used = _root_names(code)
        lines: list[str] = []
        for root, line in self.backend.imports.items():
            if root in used and line not in lines:
                lines.append(line)
        return lines

    def setup_code(self, code: str) -> str:
        lines = self.imports_for(code + "\n" + "\n".join(self.prelude()))
        prelude = self.prelude()
        text = "\n".join(lines) + ("\n\n" + "\n".join(prelude) if prelude else "")
        # libcst gives back a parsed statement's text exactly, so the lines go to the formatter as they are
        return format_code("".join(line + "\n" for line in text.splitlines() if line.strip())) if text.strip() else ""


NCHW_TO_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}


def _static(v):
    from d2lc.core.ir import static_value
    return static_value(v)


def _nhwc_axis(axis):
    if isinstance(axis, tuple):
        return tuple(_nhwc_axis(a) for a in axis)
    return NCHW_TO_NHWC[axis % 4]


def _rank_of(node: ir.Op) -> int | None:
    x = node.args.get("x")
    if isinstance(x, ir.Expr) and isinstance(x.type, TensorType):
        return x.type.rank
    if node.op == "stack" and isinstance(node.type, TensorType):
        return node.type.rank
    ts = node.args.get("tensors")
    if isinstance(ts, ir.Seq) and ts.items and isinstance(ts.items[0].type, TensorType):
        return ts.items[0].type.rank
    return None


def _nhwc_index(items: list, loc) -> list:
    """Reorder an index on an NCHW tensor for NHWC storage (no `...` or None allowed in it)."""
    if any(isinstance(i, ir.IndexEllipsis) or (isinstance(i, ir.Const) and i.value is None) for i in items):
        return items
    full = list(items) + [ir.IndexSlice(None, None, None) for _ in range(4 - len(items))]
    out = [full[0], full[2], full[3], full[1]]
    while out and isinstance(out[-1], ir.IndexSlice) and out[-1].start is None and out[-1].stop is None and out[-1].step is None:
        out.pop()
    return out


_EQ = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
MODEL_EXPRS = {"Layer": "layer", "ParamDecl": "param_decl", "ApplyLayer": "apply_layer", "NewModel": "new_model",
               "CallModel": "call_model", "Construct": "construct"}


class _Emitted(ir.Expr):
    """An expression already turned into code (used to feed casts through the op table)."""

    def __init__(self, type_, loc, code):
        super().__init__(type_, loc)
        self.code = code


def _op(name: str, type_, loc, **args) -> ir.Op:
    return ir.Op(type_, loc, name, args)


@dataclass(frozen=True)
class ModuleFacts:
    """What every target's emitter needs to know about a module before emitting it (target-independent)."""

    module: ir.Module
    names: frozenset[str]
    recorded_runs: dict[int, ir.Grad]
    shared_backward: dict[int, ir.Grad]
    shares_wrt: frozenset[int]


_last_facts: list[ModuleFacts] = []  # the last module's facts: a chapter is emitted for each target in turn


def _module_facts(module: ir.Module) -> ModuleFacts:
    if _last_facts and _last_facts[0].module is module:
        return _last_facts[0]
    from d2lc.passes.analysis import shared_backward
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
        if isinstance(s, (ir.Assign, ir.IndexAssign)):
            names.add(s.name)
        elif isinstance(s, ir.For):
            names.add(s.var)
        elif isinstance(s, ir.FuncDef):
            names.add(s.name)
            names |= {p.name for p in s.params}
    return names


def _root_names(code: str) -> set[str]:
    import re
    return set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)\s*[.(]", code)) | set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)\b", code))


# Ops every Python target spells the same way.
def _print(em: Emitter, node: ir.Op) -> cst.BaseExpression:
    return cst.Call(cst.Name("print"), [cst.Arg(em.expr(v)) for v in node.args["values"]])


def _py_bool(em: Emitter, node: ir.Op) -> cst.BaseExpression:
    values = [em.expr(v) for v in node.args["values"]]
    op = cst.And() if node.op == "py_and" else cst.Or()
    out = values[0]
    for v in values[1:]:
        out = cst.BooleanOperation(out, op, v)
    return out


def _getitem(em: Emitter, node: ir.Op) -> cst.BaseExpression:
    x = node.args["x"]
    if em.channels_last() and isinstance(x.type, TensorType) and x.type.rank == 4:
        node = ir.Op(node.type, node.loc, "getitem", {**node.args, "index": _nhwc_index(node.args["index"], node.loc)})
    if isinstance(x, ir.Op) and x.op == "shape" and em.channels_last() and isinstance(x.args["x"].type, TensorType) \
            and x.args["x"].type.rank == 4:
        i = _static(node.args["index"][0])
        if isinstance(i, int):
            return em.subscript(em.expr(x), [ir.Const(node.type, node.loc, _nhwc_axis(i))])
    rule = em.backend.ops.get("getitem")
    if rule is not None and isinstance(node.args["x"].type, TensorType):
        return rule.emit(em, node)
    return em.subscript(em.expr(node.args["x"]), node.args["index"])


GENERIC = {
    "print": _print,
    "py_and": _py_bool,
    "py_or": _py_bool,
    "py_not": lambda em, n: unary(cst.Not(), em.expr(n.args["x"])),
    "py_float": lambda em, n: cst.Call(cst.Name("float"), [cst.Arg(em.expr(n.args["x"]))]),
    "py_int": lambda em, n: cst.Call(cst.Name("int"), [cst.Arg(em.expr(n.args["x"]))]),
    "getitem": _getitem,
    "list_append": lambda em, n: cst.Call(attr(em.expr(n.args["xs"]), cst.Name("append")), [cst.Arg(em.expr(n.args["x"]))]),
}

_PY_BIN = {"add": cst.Add, "sub": cst.Subtract, "mul": cst.Multiply, "truediv": cst.Divide, "floordiv": cst.FloorDivide,
           "mod": cst.Modulo, "pow": cst.Power}
_PY_CMP = {"eq": cst.Equal, "ne": cst.NotEqual, "lt": cst.LessThan, "le": cst.LessThanEqual, "gt": cst.GreaterThan,
           "ge": cst.GreaterThanEqual}
_PYTHON_SCALAR_RULES = {
    **{k: (lambda op: lambda em, n: binop(em.expr(n.args["x"]), op(), em.expr(n.args["y"])))(v) for k, v in _PY_BIN.items()},
    **{k: (lambda op: lambda em, n: compare(em.expr(n.args["x"]), [cst.ComparisonTarget(op(), em.expr(n.args["y"]))]))(v)
       for k, v in _PY_CMP.items()},
    "neg": lambda em, n: unary(cst.Minus(), em.expr(n.args["x"])),
    "maximum": lambda em, n: cst.Call(cst.Name("max"), [cst.Arg(em.expr(n.args["x"])), cst.Arg(em.expr(n.args["y"]))]),
    "minimum": lambda em, n: cst.Call(cst.Name("min"), [cst.Arg(em.expr(n.args["x"])), cst.Arg(em.expr(n.args["y"]))]),
}

__all__ = ["Emitter", "EmitError", "dotted", "parse_template_expression", "parse_template_statement", "NONE"]
