"""AST -> typed IR: name resolution, argument binding, and shape/dtype inference with diagnostics."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from d2lc.front import ast as A
from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.diagnostics import DiagnosticBag, Loc, did_you_mean
from d2lc.core.ops import ATTRIBUTES, FUNCTIONS, METHODS, REQUIRED, SPECS, Ctx, OpSpec, OpTypeError
from d2lc.core.types import ANY, BOOL, DTYPE_NAMES, FLOAT, INT, NONE, STR, AnyType, DType, FuncType, ScalarType, SeqType, ShapeError, TensorType, Type, broadcast, dims_equal, fmt_shape, scalar_dtype

BUILTIN_NAMES = set(FUNCTIONS) | {"grad", "range", "float", "int", "print"} | set(DTYPE_NAMES)
try:
    from d2lc.core.layers import DATASETS as _D, LAYERS as _L, LOSSES as _LS, OPTIMIZERS as _O
    BUILTIN_NAMES |= set(_D) | set(_L) | set(_LS) | set(_O) | {"param", "train"}
except ImportError:  # pragma: no cover
    pass
# Names the emitted code or the DSL itself relies on; other built-ins (mean, var, max, ...) may be shadowed.
RESERVED_BUILTINS = {"print", "range", "len", "float", "int", "grad", "train", "param", "seed"} | set(DTYPE_NAMES)
try:
    from d2lc.core.layers import DATASETS as _D2, LAYERS as _L2, LOSSES as _LS2, OPTIMIZERS as _O2
    RESERVED_BUILTINS |= set(_D2) | set(_L2) | set(_LS2) | set(_O2)
except ImportError:  # pragma: no cover
    pass
RESERVED = {"model", "def", "for", "in", "if", "elif", "else", "return", "pass", "and", "or", "not"}


@dataclass
class Symbol:
    type: Type
    const: Any = None  # a statically known Python value, if any
    func: ir.FuncDef | None = None
    is_param: bool = False
    layer: ir.Layer | None = None  # the built-in layer a name holds (`pool = MaxPool2d(3)`), for calls outside models


@dataclass
class Scope:
    symbols: dict[str, Symbol] = field(default_factory=dict)
    parent: "Scope | None" = None
    func: ir.FuncDef | None = None

    def lookup(self, name: str) -> Symbol | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.symbols:
                return scope.symbols[name]
            scope = scope.parent
        return None

    def names(self) -> set[str]:
        out: set[str] = set()
        scope: Scope | None = self
        while scope is not None:
            out |= set(scope.symbols)
            scope = scope.parent
        return out


def _a(word: object) -> str:
    """`word` with its indefinite article: "an int64 tensor", "a float32 tensor"."""
    text = str(word)
    return ("an " if text[:1].lower() in "aeiou" and text[:1] else "a ") + text


class Lowerer:
    """Lowers the AST of one chapter (all cells share one top-level scope, as in a notebook)."""

    def __init__(self, diags: DiagnosticBag):
        self.diags = diags
        self.globals = Scope()
        self.scope = self.globals
        self.functions: dict[str, ir.FuncDef] = {}
        self.models: dict[str, ir.ModelDef] = {}
        self.current_model: ir.ModelDef | None = None
        self._in_loop = 0
        self.model_asts: dict[str, A.ModelDef] = {}  # for shape checking through model boundaries (models.probe_forward)
        self.probe_depth = 0
        self.layer_inputs: dict[int, tuple] = {}  # id(layer) -> (input size, loc, layer) of its first use

    # ---- errors ------------------------------------------------------------------------------
    def error(self, loc: Loc, message: str, expected: str | None = None, hint: str | None = None) -> ir.Expr:
        self.diags.error(loc, message, expected, hint)
        return ir.Const(ANY, loc, None)

    # ---- statements --------------------------------------------------------------------------
    def block(self, stmts: list[A.Node]) -> list[ir.Stmt]:
        out: list[ir.Stmt] = []
        for s in stmts:
            lowered = self.stmt(s)
            if lowered is not None:
                out.append(lowered)
        return out

    def stmt(self, s: A.Node) -> ir.Stmt | None:
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:
            self.error(s.loc, f"unsupported statement `{type(s).__name__}`", expected="a DSL statement",
                       hint="docs/dsl.md lists the statements the DSL accepts")
            return None
        return method(s)

    def stmt_Assign(self, s: A.Assign) -> ir.Stmt | None:
        if isinstance(s.target, A.Name):
            value = self.expr(s.value)
            return self._bind(s.target, value, s.loc)
        if isinstance(s.target, A.Subscript):
            return self._index_assign(s.target, self.expr(s.value), s.loc)
        if isinstance(s.target, A.TupleLit):
            self.error(s.target.loc, "unpacking assignment is not supported", expected="a single name on the left",
                       hint="assign each value on its own line")
            return None
        self.error(s.target.loc, "cannot assign to this expression", expected="a name or an indexed name (X[i] = ...)",
                   hint="assign the value to a name, e.g. `y = ...`")
        return None

    def reserved_word(self, name: str, loc: Loc) -> bool:
        """Report a DSL keyword (`and`, `else`, ...) used as a name; True if it was one."""
        if name not in RESERVED:
            return False
        self.error(loc, f"`{name}` is a reserved word of the DSL and cannot be a name", expected="a name that is not a keyword",
                   hint=f"pick another name, e.g. `{name}_`")
        return True

    def _bind(self, target: A.Name, value: ir.Expr, loc: Loc) -> ir.Stmt | None:
        name = target.id
        if self.reserved_word(name, target.loc):
            return None
        if name in RESERVED_BUILTINS:
            self.error(target.loc, f"`{name}` is a built-in and cannot be reassigned", expected="a name that is not a built-in",
                       hint=f"pick another name, e.g. `{name}_`")
            return None
        if isinstance(value.type, (ScalarType,)) and value.type.kind == "none":
            self.error(value.loc, "this expression has no value to assign", expected="an expression with a value",
                       hint="`print(...)` returns nothing; call it on its own line")
        if isinstance(value, ir.Seq) and value.kind == "list" and not value.items:
            from d2lc.core.types import ListType
            value = ir.Seq(ListType(None), value.loc, [], "list")
        const = static_value(value) if not self._in_loop else None
        existing = self.scope.symbols.get(name)
        layer = value if isinstance(value, ir.Layer) else None
        self.scope.symbols[name] = Symbol(value.type, const, is_param=False, layer=layer)
        del existing
        return ir.Assign(loc, name, value)

    def stmt_AugAssign(self, s: A.AugAssign) -> ir.Stmt | None:
        combined = A.BinOp(s.loc, s.op, s.target, s.value)
        return self.stmt_Assign(A.Assign(s.loc, s.target, combined))

    def _index_assign(self, target: A.Subscript, value: ir.Expr, loc: Loc) -> ir.Stmt | None:
        if not isinstance(target.value, A.Name):
            self.error(target.loc, "only a named tensor can be assigned into", expected="X[...] = value",
                       hint="assign the tensor to a name first, then assign into `name[...]`")
            return None
        name = target.value.id
        sym = self.scope.lookup(name)
        if sym is None:
            self.error(target.value.loc, f"assignment into undefined tensor `{name}`",
                       expected="a tensor defined before its elements are assigned",
                       hint=did_you_mean(name, self.scope.names()) or f"create it first, e.g. `{name} = zeros((3, 4))`")
            return None
        if not isinstance(sym.type, (TensorType, AnyType)):
            self.error(target.value.loc, f"`{name}` is {_a(sym.type)}, not a tensor; only tensors support element assignment",
                       expected="a tensor", hint=f"create `{name}` as a tensor, e.g. `{name} = zeros((3,))`")
            return None
        index, slot = self._index(target, ir.Var(sym.type, target.value.loc, name))
        if isinstance(slot, TensorType) and isinstance(value.type, (TensorType, ScalarType)):
            vshape = value.type.shape if isinstance(value.type, TensorType) else ()
            try:
                if broadcast(slot.shape, vshape) != slot.shape and None not in slot.shape:
                    raise ShapeError(f"a value of shape {fmt_shape(vshape)} does not fit the slice of shape {fmt_shape(slot.shape)}")
            except ShapeError as exc:
                self.error(value.loc, str(exc).replace("do not broadcast", "do not fit together"),
                           expected=f"a value broadcastable to {fmt_shape(slot.shape)}",
                           hint="index or reshape the value so its shape matches the slice")
        if index is None:
            return None
        return ir.IndexAssign(loc, name, sym.type, index, value, slot_type=slot)

    def stmt_ExprStmt(self, s: A.ExprStmt) -> ir.Stmt | None:
        v = s.value
        if isinstance(v, A.Call) and isinstance(v.func, A.Name) and v.func.id == "train" and self.scope.lookup("train") is None:
            from d2lc.front.lower_models import lower_train
            return lower_train(self, v)
        return ir.ExprStmt(s.loc, self.expr(s.value))

    def stmt_Pass(self, s: A.Pass) -> ir.Stmt:
        return ir.Pass(s.loc)

    def stmt_Return(self, s: A.Return) -> ir.Stmt | None:
        if self.scope.func is None:
            self.error(s.loc, "`return` outside a function", expected="`return` inside the body of a `def`",
                       hint="indent it under a `def`, or assign the value to a name instead")
            return None
        return ir.Return(s.loc, self.expr(s.value) if s.value is not None else None)

    def stmt_For(self, s: A.For) -> ir.Stmt | None:
        if len(s.targets) != 1:
            self.error(s.loc, "a `for` loop takes one loop variable", expected="for i in range(n):",
                       hint="loop over one index and compute the others inside the loop")
            return None
        it = s.iter
        if not (isinstance(it, A.Call) and isinstance(it.func, A.Name) and it.func.id == "range"):
            self.error(it.loc, "`for` loops run over `range(...)`", expected="for i in range(n):",
                       hint="index the tensor inside the loop, e.g. X[i]")
            return None
        args = [self.expr(a) for a in it.args]
        if not 1 <= len(args) <= 3 or it.kwargs:
            self.error(it.loc, f"`range` takes 1 to 3 positional arguments, got {len(args) + len(it.kwargs)}",
                       expected="range(stop) or range(start, stop[, step])", hint="pass the bounds positionally")
            return None
        for a in args:
            if not (isinstance(a.type, ScalarType) and a.type.kind == "int") and not isinstance(a.type, AnyType):
                self.error(a.loc, f"`range` needs int arguments, got {a.type}", expected="an int", hint="use `.item()` or `int(...)` on a tensor")
        names = ["start", "stop", "step"] if len(args) > 1 else ["stop"]
        rng = ir.Op(SeqType((INT,)), it.loc, "range", dict(zip(names, args)))
        if self.reserved_word(s.targets[0], Loc(s.loc.file, s.loc.line, s.loc.col + 4, s.loc.col + 4 + len(s.targets[0]))):
            return None
        self.scope.symbols[s.targets[0]] = Symbol(INT)
        self._in_loop += 1
        self._forget_consts(s.body)
        body = self.block(s.body)
        self._in_loop -= 1
        return ir.For(s.loc, s.targets[0], rng, body)

    def _forget_consts(self, body: list[A.Node]) -> None:
        for node in body:
            if isinstance(node, A.Assign) and isinstance(node.target, A.Name):
                sym = self.scope.lookup(node.target.id)
                if sym is not None:
                    sym.const = None

    def stmt_If(self, s: A.If) -> ir.Stmt:
        cond = self.expr(s.test)
        t = cond.type
        if isinstance(t, TensorType) and (t.rank != 0 or t.dtype != DType.bool):
            self.error(cond.loc, f"an `if` condition must be a single truth value, got {_a(t)} tensor",
                       expected="a bool or a rank-0 bool tensor", hint="reduce it to one value first, e.g. `X.sum().item() > 0`, or use `where(...)` elementwise")
        self._in_loop += 1
        body = self.block(s.body)
        orelse = self.block(s.orelse)
        self._in_loop -= 1
        return ir.If(s.loc, cond, body, orelse)

    def stmt_FuncDef(self, s: A.FuncDef, scope_parent: "Scope | None" = None, register: bool = True) -> ir.Stmt | None:
        params: list[ir.Param] = []
        fscope = Scope(parent=scope_parent or self.globals)
        seen_default: A.Param | None = None
        self.reserved_word(s.name, Loc(s.loc.file, s.loc.line, s.loc.col, s.loc.col + len(s.name)))  # a def's loc is its name's
        for p in s.params:
            self.reserved_word(p.name, p.loc)
            if p.name in fscope.symbols:
                self.error(p.loc, f"duplicate parameter `{p.name}` in `def {s.name}`", expected="distinct parameter names",
                           hint="rename one of the parameters")
            if p.default is not None:
                seen_default = p
            elif seen_default is not None:
                self.error(p.loc, f"parameter `{p.name}` without a default follows `{seen_default.name}`, which has one",
                           expected="parameters with defaults last", hint=f"move `{p.name}` before `{seen_default.name}`, or give it a default")
            ptype = self._ann_type(p.ann) if p.ann else ANY
            default = self.expr(p.default) if p.default is not None else None
            params.append(ir.Param(p.name, ptype, default, p.loc))
            fscope.symbols[p.name] = Symbol(ptype, is_param=True)
        declared = self._ann_type(s.returns) if s.returns else None
        fdef = ir.FuncDef(s.loc, s.name, params, declared or ANY, [], save="save" in s.decorators)
        if register:
            self.globals.symbols[s.name] = Symbol(FuncType(s.name), func=fdef)
            self.functions[s.name] = fdef
        fscope.func = fdef
        outer, self.scope = self.scope, fscope
        try:
            fdef.body = self.block(s.body)
        finally:
            self.scope = outer
        returns = [r for r in ir.walk_stmts(fdef.body) if isinstance(r, ir.Return) and r.value is not None]
        inferred = returns[-1].value.type if returns else NONE
        if declared is not None and not isinstance(declared, AnyType):
            self._check_result(s, declared, returns)
        fdef.result = declared or inferred
        return fdef

    def _check_result(self, s: A.FuncDef, declared: Type, returns: list[ir.Return]) -> None:
        """Every `return` of a function with a result annotation returns a value of that type."""
        if not returns:
            self.error(Loc(s.loc.file, s.loc.line, s.loc.col, s.loc.col + len(s.name)),
                       f"`{s.name}` declares the result {declared} but returns nothing",
                       expected=f"`return` with a value of type {declared}",
                       hint="add a `return` statement, or remove the `->` annotation")
            return
        for r in returns:
            got = r.value.type
            if isinstance(got, AnyType):
                continue
            if isinstance(declared, TensorType) and isinstance(got, TensorType):
                ok = declared.dtype == got.dtype and declared.rank == got.rank and not any(
                    dims_equal(a, b) is False for a, b in zip(declared.shape, got.shape))
            elif isinstance(declared, ScalarType) and isinstance(got, ScalarType):
                ok = declared.kind == got.kind or (declared.kind == "float" and got.kind == "int")
            else:
                ok = False
            if not ok:
                self.error(r.value.loc, f"`{s.name}` returns {got}, but its signature says {declared}",
                           expected=str(declared), hint="fix the return annotation or the computation")

    def stmt_ModelDef(self, s: A.ModelDef) -> ir.Stmt | None:
        from d2lc.front.lower_models import lower_model
        return lower_model(self, s)

    def _ann_type(self, ann: A.TypeAnn) -> Type:
        if ann.dims is None:
            if ann.name in ("int", "float", "bool", "str"):
                return ScalarType(ann.name)
            if ann.name in DTYPE_NAMES:
                return TensorType(DTYPE_NAMES[ann.name], ())
            self.error(ann.loc, f"unknown type `{ann.name}`", expected="int, float, bool, or a tensor type like f32[n, k]",
                       hint=did_you_mean(ann.name, list(DTYPE_NAMES) + ["int", "float", "bool"])
                       or "tensor types are written dtype[dims], e.g. f32[n, k]")
            return ANY
        if ann.name not in DTYPE_NAMES:
            self.error(ann.loc, f"unknown dtype `{ann.name}` in a tensor type", expected="f32, f64, i32, i64 or bool",
                       hint=did_you_mean(ann.name, DTYPE_NAMES) or "write the dtype first, e.g. f32[n, k]")
            return ANY
        return TensorType(DTYPE_NAMES[ann.name], tuple(ann.dims))

    # ---- expressions -------------------------------------------------------------------------
    def expr(self, e: A.Node) -> ir.Expr:
        method = getattr(self, "expr_" + type(e).__name__, None)
        if method is None:
            return self.error(e.loc, "this expression is not allowed here", expected="a DSL expression",
                              hint="docs/dsl.md lists the expressions the DSL accepts")
        return method(e)

    def expr_Literal(self, e: A.Literal) -> ir.Expr:
        v = e.value
        t = BOOL if isinstance(v, bool) else INT if isinstance(v, int) else FLOAT if isinstance(v, float) \
            else STR if isinstance(v, str) else NONE
        return ir.Const(t, e.loc, v)

    def expr_Name(self, e: A.Name) -> ir.Expr:
        sym = self.scope.lookup(e.id)
        if sym is not None:
            return ir.Var(sym.type, e.loc, e.id)
        if e.id in DTYPE_NAMES:
            return ir.Const(ScalarType("dtype"), e.loc, DTYPE_NAMES[e.id])
        if e.id in FUNCTIONS or e.id in ("grad", "range", "float", "int"):
            return self.error(e.loc, f"`{e.id}` is a function; call it", expected=f"{e.id}(...)",
                              hint="functions are not values in the DSL; add parentheses with its arguments")
        return self.error(e.loc, f"undefined name `{e.id}`", expected="a variable assigned earlier in this chapter",
                          hint=did_you_mean(e.id, self.scope.names() | BUILTIN_NAMES)
                          or f"assign `{e.id}` in this cell or an earlier one before using it")

    def expr_TupleLit(self, e: A.TupleLit) -> ir.Expr:
        items = [self.expr(i) for i in e.items]
        return ir.Seq(SeqType(tuple(i.type for i in items)), e.loc, items, "tuple")

    def expr_ListLit(self, e: A.ListLit) -> ir.Expr:
        items = [self.expr(i) for i in e.items]
        return ir.Seq(SeqType(tuple(i.type for i in items), "list"), e.loc, items, "list")

    def expr_BinOp(self, e: A.BinOp) -> ir.Expr:
        x, y = self.expr(e.left), self.expr(e.right)
        op = {"and": "logical_and", "or": "logical_or", "xor": "logical_xor"}.get(e.op, e.op)
        if op.startswith("logical_") and isinstance(x.type, ScalarType) and isinstance(y.type, ScalarType):
            return self.error(e.loc, f"`{ {'logical_and': '&', 'logical_or': '|', 'logical_xor': '^'}[op]}` is for bool tensors",
                              expected="bool tensors on both sides", hint="use `and` / `or` for Python truth values")
        return self.apply(op, {"x": x, "y": y}, e.loc)

    def expr_Compare(self, e: A.Compare) -> ir.Expr:
        return self.apply(e.op, {"x": self.expr(e.left), "y": self.expr(e.right)}, e.loc)

    def expr_BoolOp(self, e: A.BoolOp) -> ir.Expr:
        values = [self.expr(v) for v in e.values]
        for v in values:
            if isinstance(v.type, TensorType):
                sym = "&" if e.op == "and" else "|"
                return self.error(v.loc, f"`{e.op}` needs Python truth values, got a tensor",
                                  expected="a bool", hint=f"use `{sym}` for elementwise logic on bool tensors")
        return ir.Op(BOOL, e.loc, "py_" + e.op, {"values": values})

    def expr_UnaryOp(self, e: A.UnaryOp) -> ir.Expr:
        x = self.expr(e.operand)
        if e.op == "pos":
            return x
        if e.op == "not":
            if isinstance(x.type, TensorType):
                return self.error(e.loc, "`not` needs a Python truth value, got a tensor", expected="a bool",
                                  hint="use `~` for bool tensors")
            return ir.Op(BOOL, e.loc, "py_not", {"x": x})
        if e.op == "invert":
            return self.apply("logical_not", {"x": x}, e.loc)
        if isinstance(x, ir.Const) and isinstance(x.value, (int, float)) and not isinstance(x.value, bool):
            return ir.Const(x.type, e.loc, -x.value)
        return self.apply("neg", {"x": x}, e.loc)

    def expr_Attribute(self, e: A.Attribute) -> ir.Expr:
        base = self.expr(e.value)
        if e.attr in ATTRIBUTES and not isinstance(base.type, (TensorType, AnyType)):
            return self.error(e.loc, f"{_a(base.type)} has no attribute `.{e.attr}`", expected="a tensor",
                              hint=f"`.{e.attr}` is for tensors; make one with `tensor(...)` first")
        if e.attr in ATTRIBUTES:
            return self.apply(ATTRIBUTES[e.attr], {"x": base}, e.loc)
        if e.attr in METHODS:
            return self.error(e.loc, f"`.{e.attr}` is a method; call it", expected=f".{e.attr}(...)",
                              hint=f"add parentheses: `.{e.attr}()`")
        return self.error(e.loc, f"tensors have no attribute `.{e.attr}`",
                          expected="one of: " + ", ".join(f".{a}" for a in ATTRIBUTES) + ", or a method call",
                          hint=did_you_mean(e.attr, list(ATTRIBUTES) + list(METHODS)) or "see docs/dsl.md for the attributes")

    def expr_Subscript(self, e: A.Subscript) -> ir.Expr:
        base = self.expr(e.value)
        if isinstance(base.type, SeqType):
            if len(e.index) != 1:
                return self.error(e.loc, "a tuple takes a single index", expected="one int index, e.g. t[0]",
                                  hint="index the tuple once, then index the item")
            i = self.expr(e.index[0])
            iv = static_value(i)
            items = base.type.items
            if isinstance(iv, int):
                if not -len(items) <= iv < len(items):
                    return self.error(i.loc, f"index {iv} is out of range for a tuple of {len(items)} items",
                                      expected=f"an index in [{-len(items)}, {len(items) - 1}]",
                                      hint="indices start at 0; negative indices count from the end")
                t = items[iv]
            else:
                t = items[0] if items else ANY
            return ir.Op(t, e.loc, "getitem", {"x": base, "index": [i]})
        index, t = self._index(e, base)
        if index is None:
            return ir.Const(ANY, e.loc, None)
        return ir.Op(t, e.loc, "getitem", {"x": base, "index": index})

    def _index(self, e: A.Subscript, base: ir.Expr) -> tuple[list | None, Type]:
        """Lower an index expression and infer the resulting shape."""
        items: list = []
        for node in e.index:
            if isinstance(node, A.Slice):
                parts = [self.expr(p) if p is not None else None for p in (node.start, node.stop, node.step)]
                for p in parts:
                    if p is not None and not (isinstance(p.type, ScalarType) and p.type.kind == "int") and not isinstance(p.type, AnyType):
                        self.error(p.loc, f"slice bounds must be ints, got {p.type}", expected="an int",
                                   hint="convert with `int(...)`")
                step = static_value(parts[2]) if parts[2] is not None else None
                if isinstance(step, int) and step <= 0:
                    self.error(parts[2].loc, "slice steps must be positive", expected="a step of 1 or more",
                               hint="reverse with flip-free indexing is not portable; compute indices instead")
                items.append(ir.IndexSlice(*parts))
            elif isinstance(node, A.EllipsisLit):
                items.append(ir.IndexEllipsis())
            elif isinstance(node, A.Literal) and node.value is None:
                items.append(ir.Const(NONE, node.loc, None))
            else:
                idx = self.expr(node)
                if isinstance(idx.type, TensorType):
                    self.error(idx.loc, "indexing with a tensor is not supported", expected="ints, slices, `...` or None",
                               hint="use `where(mask, X, 0)` for masks, or `.item()` for a scalar index")
                    return None, ANY
                if isinstance(idx.type, ScalarType) and idx.type.kind != "int":
                    self.error(idx.loc, f"indices must be ints, got {idx.type}", expected="an int",
                               hint="convert with `int(...)`")
                    return None, ANY
                items.append(idx)
        t = base.type
        if not isinstance(t, TensorType):
            if not isinstance(t, AnyType):
                self.error(e.loc, f"{_a(t)} cannot be indexed", expected="a tensor or a tuple",
                           hint="only tensors and tuples support `[...]`")
            return items, ANY
        if sum(isinstance(i, ir.IndexEllipsis) for i in items) > 1:
            self.error(e.loc, "an index can hold at most one `...`", expected="at most one `...`",
                       hint="`...` already stands for all the axes it skips")
            return None, ANY
        consumed = sum(1 for i in items if not isinstance(i, ir.IndexEllipsis) and not (isinstance(i, ir.Const) and i.value is None))
        if consumed > t.rank:
            self.error(e.loc, f"too many indices: {consumed} for a tensor of rank {t.rank} {fmt_shape(t.shape)}",
                       expected=f"at most {t.rank} ind{'ex' if t.rank == 1 else 'ices'}",
                       hint="index each axis at most once; reshape first to index more axes")
            return None, ANY
        shape: list = []
        dims = list(t.shape)
        pos = 0
        for it in items:
            if isinstance(it, ir.IndexEllipsis):
                take = t.rank - consumed
                shape.extend(dims[pos:pos + take])
                pos += take
            elif isinstance(it, ir.Const) and it.value is None:
                shape.append(1)
            elif isinstance(it, ir.IndexSlice):
                shape.append(_slice_len(dims[pos], *(static_value(p) if p is not None else None for p in (it.start, it.stop, it.step))))
                pos += 1
            else:
                v = static_value(it)
                d = dims[pos]
                if isinstance(v, int) and isinstance(d, int) and not -d <= v < d:
                    self.error(it.loc, f"index {v} is out of range for axis {pos} of size {d}",
                               expected=f"an index in [{-d}, {d - 1}]" if d else "no index: the axis is empty",
                               hint="indices start at 0; negative indices count from the end")
                    return None, ANY
                pos += 1
        shape.extend(dims[pos:])
        return items, TensorType(t.dtype, tuple(shape))

    def expr_Call(self, e: A.Call) -> ir.Expr:
        f = e.func
        for kw in e.kwargs:
            if kw.name == "<invalid>":
                return self.error(kw.loc, "a keyword argument needs a plain name before `=`", expected="name=value",
                                  hint="to compare two values, write `==`")
        # grad(f)(x): the gradient of a chapter function with respect to its first argument
        if isinstance(f, A.Call) and isinstance(f.func, A.Name) and f.func.id == "grad":
            return self._grad_of_function(f, e)
        if isinstance(f, A.Attribute) and f.attr == "append":
            return self._append(f, e)
        if isinstance(f, A.Attribute):
            if f.attr in METHODS:
                base = self.expr(f.value)
                if isinstance(base.type, (TensorType, AnyType)):
                    return self.call_op(METHODS[f.attr], [base] + [self.expr(a) for a in e.args], e, f"x.{f.attr}")
                for a in e.args:
                    self.expr(a)
                return self.error(f.loc, f"{_a(base.type)} has no method `.{f.attr}`", expected="a tensor",
                                  hint=f"`.{f.attr}()` is a tensor method; make a tensor with `tensor(...)` first"
                                  if isinstance(base.type, ScalarType) else f"call `.{f.attr}()` on a tensor")
            self.expr(f.value)
            return self.error(f.loc, f"tensors have no method `.{f.attr}`", expected="a DSL tensor method",
                              hint=did_you_mean(f.attr, METHODS) or "see docs/dsl.md for the methods")
        if not isinstance(f, A.Name):
            return self.error(f.loc, "only named functions can be called", expected="name(...)",
                              hint="call a built-in or a function defined with `def`")
        name = f.id
        sym = self.scope.lookup(name)
        if sym is not None and sym.func is not None:
            return self._call_user(sym.func, e)
        from d2lc.front.lower_models import lower_apply, lower_call
        from d2lc.core.types import LayerType, ModelType
        if sym is not None and (isinstance(sym.type, LayerType) or isinstance(sym.type, ModelType) and not sym.type.is_class):
            return lower_apply(self, e, sym.type, name, sym.layer)
        if sym is None or isinstance(sym.type, ModelType):
            lowered = lower_call(self, e, name)
            if lowered is not None:
                return lowered
        if name == "train":
            return self.error(f.loc, "`train(...)` is a statement; write it on its own line", expected="train(...) as a statement",
                              hint="`train` updates the model in place and returns nothing to assign")
        if sym is not None:
            return self.error(f.loc, f"`{name}` is {_a(sym.type)}, not a function", expected="a function",
                              hint=f"`{name}` was assigned a value; functions are defined with `def`")
        if name == "grad":
            return self._grad(e)
        if name in ("float", "int"):
            if len(e.args) != 1:
                return self.error(f.loc, f"`{name}` takes 1 argument, got {len(e.args)}", expected=f"{name}(x)",
                                  hint="convert one value at a time")
            x = self.expr(e.args[0])
            if isinstance(x.type, TensorType):
                x = self.call_op("item", [x], e, "item")
            return ir.Op(INT if name == "int" else FLOAT, e.loc, "py_" + name, {"x": x})
        if name == "range":
            return self.error(f.loc, "`range` is only allowed as the iterable of a `for` loop", expected="for i in range(n):",
                              hint="use `arange(...)` for a tensor of evenly spaced values")
        if name == "print":
            values = [self.expr(a) for a in e.args]
            if e.kwargs:
                self.error(e.kwargs[0].loc, "`print` takes no keyword arguments", expected="print(value, ...)",
                           hint="pass the values positionally")
            return ir.Op(NONE, e.loc, "print", {"values": values})
        if name in FUNCTIONS:
            return self.call_op(FUNCTIONS[name], [self.expr(a) for a in e.args], e, name)
        if name in RESERVED:
            return self.error(f.loc, f"`{name}` is a reserved word", expected="a function name",
                              hint=f"`{name}` is part of the DSL's syntax and cannot be called")
        for a in e.args:
            self.expr(a)
        return self.error(f.loc, f"unknown function `{name}`", expected="a DSL built-in or a function defined with `def`",
                          hint=did_you_mean(name, set(FUNCTIONS) | set(self.functions) | {"grad", "print"})
                          or f"define it with `def {name}(...):` before this call")

    def _append(self, f: A.Attribute, e: A.Call) -> ir.Expr:
        from d2lc.core.types import ListType
        base = self.expr(f.value)
        if not isinstance(base.type, ListType):
            return self.error(f.loc, f"`.append` is for lists, not {_a(base.type)}", expected="a list made with `name = []`",
                              hint="start an empty list with `name = []`, then append to it")
        if len(e.args) != 1 or e.kwargs:
            return self.error(e.loc, "`append` takes one value", expected="name.append(value)", hint="append values one at a time")
        item = self.expr(e.args[0])
        if not isinstance(item.type, (TensorType, AnyType)):
            return self.error(item.loc, f"lists hold tensors, got {_a(item.type)}", expected="a tensor",
                              hint="wrap numbers with `tensor(...)` first")
        if base.type.elem is not None and isinstance(item.type, TensorType) and isinstance(base.type.elem, TensorType):
            old = base.type.elem
            if old.dtype != item.type.dtype or old.rank != item.type.rank:
                return self.error(item.loc, f"this list holds {old} tensors; appending {_a(item.type)}", expected=str(old),
                                  hint="a list holds tensors of one dtype and rank; cast or reshape first")
        if isinstance(base, ir.Var):
            sym = self.scope.lookup(base.name)
            if sym is not None:
                sym.type = ListType(item.type)
        return ir.Op(NONE, e.loc, "list_append", {"xs": base, "x": item})

    def _call_user(self, fdef: ir.FuncDef, e: A.Call) -> ir.Expr:
        params = fdef.params
        names = [p.name for p in params]
        sig = f"{fdef.name}({', '.join(names)})"
        args = [self.expr(a) for a in e.args]
        by_kw: dict[str, ir.Expr] = {}
        for kw in e.kwargs:
            value = self.expr(kw.value)
            if kw.name not in names:
                return self.error(kw.loc, f"`{fdef.name}` has no parameter `{kw.name}`",
                                  expected="one of: " + ", ".join(names) if names else "no keyword arguments",
                                  hint=did_you_mean(kw.name, names) or f"see the `def {fdef.name}` line")
            if kw.name in by_kw or names.index(kw.name) < len(args):
                return self.error(kw.loc, f"`{fdef.name}` got two values for `{kw.name}`", expected=sig,
                                  hint=f"pass `{kw.name}` either by position or by name, not both")
            by_kw[kw.name] = value
        given = len(args) + len(by_kw)
        takes = f"`{fdef.name}` takes {len(params)} argument{'s' * (len(params) != 1)} ({', '.join(names)}), got {given}"
        if len(args) > len(params):
            extra = len(args) - len(params)
            return self.error(e.func.loc, takes, expected=sig,
                              hint=f"remove the {extra} extra argument{'s' * (extra != 1)}")
        bound: list[ir.Expr] = []
        missing: list[str] = []
        for i, p in enumerate(params):
            if i < len(args):
                bound.append(args[i])
            elif p.name in by_kw:
                bound.append(by_kw[p.name])
            elif p.default is not None:
                bound.append(p.default)
            else:
                missing.append(p.name)
        if missing:
            return self.error(e.func.loc, takes, expected=sig,
                              hint=f"missing a value for {', '.join(f'`{m}`' for m in missing)}")
        args = bound
        bindings: dict[str, Any] = {}
        for p, a in zip(fdef.params, args):
            if isinstance(p.type, TensorType) and isinstance(a.type, TensorType):
                if a.type.dtype != p.type.dtype:
                    self.error(a.loc, f"`{fdef.name}` expects {p.name}: {p.type}, got {_a(a.type.dtype.value)} tensor",
                               expected=f"{_a(p.type.dtype.value)} tensor",
                               hint=f"cast the argument with `.astype({p.type.dtype.value})`")
                elif a.type.rank != p.type.rank:
                    self.error(a.loc, f"`{fdef.name}` expects {p.name}: {p.type} (rank {p.type.rank}), got {a.type}",
                               expected=f"a tensor of rank {p.type.rank}",
                               hint="reshape the argument, or change the parameter's annotation")
                else:
                    for sym, actual in zip(p.type.shape, a.type.shape):
                        if isinstance(sym, str):
                            prev = bindings.setdefault(sym, actual)
                            if dims_equal(prev, actual) is False:
                                self.error(a.loc, f"`{fdef.name}`: dimension `{sym}` is {prev} in one argument and {actual} in {p.name}",
                                           expected=f"the same size for `{sym}` everywhere",
                                           hint=f"every axis annotated `{sym}` must have the same size in one call")
                        elif dims_equal(sym, actual) is False:
                            self.error(a.loc, f"`{fdef.name}` expects {p.name} of shape {fmt_shape(p.type.shape)}, got {fmt_shape(a.type.shape)}",
                                       expected=f"shape {fmt_shape(p.type.shape)}",
                                       hint="reshape the argument, or use a named dimension such as `n` in the annotation")
        result = fdef.result
        if isinstance(result, TensorType):
            result = TensorType(result.dtype, tuple(bindings.get(d, d) if isinstance(d, str) else d for d in result.shape))
        return ir.CallFunc(result, e.loc, fdef.name, args)

    def _grad(self, e: A.Call) -> ir.Expr:
        if len(e.args) == 1 and not e.kwargs and isinstance(e.args[0], A.Name) and e.args[0].id in self.functions:
            return self.error(e.loc, "`grad(f)` makes a function; call it", expected=f"grad({e.args[0].id})(x)",
                              hint="call the gradient function on the point to differentiate at")
        if len(e.args) != 2 or e.kwargs:
            for a in e.args:
                self.expr(a)
            return self.error(e.func.loc, f"`grad` takes 2 arguments (y, x), got {len(e.args) + len(e.kwargs)}",
                              expected="grad(y, x) with y a scalar computed from x",
                              hint="pass the value first, then the variable, both by position")
        y, x = self.expr(e.args[0]), self.expr(e.args[1])
        return self._check_grad(y, x, e)

    def _check_grad(self, y: ir.Expr, x: ir.Expr, e: A.Call) -> ir.Expr:
        if any(isinstance(v, ir.Const) and isinstance(v.type, AnyType) for v in (x, y)):
            return ir.Const(ANY, e.loc, None)  # an operand already failed and was reported
        if not isinstance(x, ir.Var):
            return self.error(x.loc, "`grad` differentiates with respect to a variable", expected="a variable name",
                              hint="assign the tensor to a name first")
        if isinstance(x.type, TensorType) and not x.type.dtype.is_float:
            return self.error(x.loc, f"cannot differentiate with respect to `{x.name}`, {_a(x.type.dtype.value)} tensor",
                              expected="a float tensor",
                              hint=f"make it a float tensor, e.g. `{x.name} = {x.name}.astype(float32)`")
        if isinstance(x.type, ScalarType):
            return self.error(x.loc, f"`{x.name}` is a Python {x.type}, not a tensor", expected="a float tensor",
                              hint=f"create it as a tensor, e.g. `{x.name} = tensor(1.0)`")
        if not isinstance(x.type, (TensorType, AnyType)):
            return self.error(x.loc, f"`{x.name}` is {_a(x.type)}, not a tensor", expected="a float tensor",
                              hint="differentiate with respect to a tensor variable")
        if isinstance(y.type, TensorType) and y.type.rank != 0:
            return self.error(y.loc, f"`grad` needs a scalar, but this value has shape {fmt_shape(y.type.shape)}",
                              expected="a rank-0 tensor (one number)", hint="reduce it first, e.g. `grad(y.sum(), x)`")
        if isinstance(y.type, TensorType) and not y.type.dtype.is_float:
            return self.error(y.loc, f"`grad` of {_a(y.type.dtype.value)} value", expected="a float scalar",
                              hint="compute the value from float tensors")
        if isinstance(y.type, ScalarType):
            return self.error(y.loc, "`grad` of a Python number", expected="a tensor computed from the variable",
                              hint=f"compute the value with tensor ops on `{x.name}`")
        if not isinstance(y.type, (TensorType, AnyType)):
            return self.error(y.loc, f"`grad` of {_a(y.type)}", expected="a rank-0 float tensor",
                              hint=f"compute one number from `{x.name}`, e.g. `(...).sum()`")
        return ir.Grad(x.type, e.loc, y, x)

    def _grad_of_function(self, inner: A.Call, e: A.Call) -> ir.Expr:
        if len(inner.args) != 1 or inner.kwargs or not isinstance(inner.args[0], A.Name) \
                or inner.args[0].id not in self.functions:
            for a in e.args:
                self.expr(a)
            return self.error(inner.loc, "`grad(f)` takes one function defined in this chapter",
                              expected="grad(f)(x)", hint="or differentiate a value: grad(y, x)")
        fname = inner.args[0].id
        if not e.args:
            return self.error(e.loc, f"`grad({fname})` needs arguments", expected=f"grad({fname})(x)",
                              hint="the gradient is taken with respect to the first argument")
        call = A.Call(e.loc, A.Name(inner.args[0].loc, fname), e.args, e.kwargs)
        before = len(self.diags.items)
        y = self.expr(call)
        if len(self.diags.items) > before:
            return ir.Const(ANY, e.loc, None)  # the call's own errors say enough; don't lower its arguments twice
        x = self.expr(e.args[0])
        return self._check_grad(y, x, e)

    # ---- ops ---------------------------------------------------------------------------------
    def call_op(self, op: str, pos: list[ir.Expr], e: A.Call, shown: str) -> ir.Expr:
        spec = SPECS[op]
        params = list(spec.params)
        names = [p.name for p in params]
        method = shown.startswith("x.")  # `X.sum(...)`: X is bound to the first parameter
        own = names[1:] if method else names  # the parameters the caller writes
        sig = f"{shown}({', '.join(own)})" if method else f"{spec.name}({', '.join(names)})"
        kwargs: dict[str, ir.Expr] = {}
        for kw in e.kwargs:
            value = self.expr(kw.value)
            if kw.name not in own:
                return self.error(kw.loc, f"`{shown}` has no parameter `{kw.name}`",
                                  expected=f"one of: {', '.join(own)}" if own else "no keyword arguments",
                                  hint=did_you_mean(kw.name, own) or f"`{shown}` takes ({', '.join(own)})")
            if kw.name in kwargs:
                return self.error(kw.loc, f"`{shown}` got two values for `{kw.name}`", expected=sig,
                                  hint="pass each argument once")
            kwargs[kw.name] = value
        args: dict[str, Any] = {}
        if spec.varargs and len(pos) > names.index(spec.varargs):
            k = names.index(spec.varargs)
            extra = pos[k:]
            if len(extra) > 1 or not isinstance(extra[0].type, SeqType):
                pos = pos[:k] + [ir.Seq(SeqType(tuple(x.type for x in extra)), extra[0].loc, extra, "tuple")]
        if len(pos) > len(params):
            n = len(params) - method
            return self.error(e.loc, f"`{shown}` takes at most {n} positional argument{'s' if n != 1 else ''}, "
                                     f"got {len(pos) - method}",
                              expected=sig, hint="remove the extra arguments, or pass the optional ones by name")
        for p, v in zip(params, pos):
            args[p.name] = v
        for k, v in kwargs.items():
            if k in args:
                return self.error(e.loc, f"`{shown}` got two values for `{k}`", expected=sig,
                                  hint=f"pass `{k}` either by position or by name, not both")
            args[k] = v
        for p in params:
            if p.name not in args:
                if p.default is REQUIRED:
                    return self.error(e.loc, f"`{shown}` is missing its argument `{p.name}`", expected=sig,
                                      hint=f"pass `{p.name}` by position or as `{p.name}=...`")
                args[p.name] = None
        return self.apply(op, args, e.loc)

    def apply(self, op: str, args: dict[str, Any], loc: Loc) -> ir.Expr:
        spec: OpSpec = SPECS[op]
        types: dict[str, Type | None] = {}
        static: dict[str, Any] = {}
        for p in spec.params:
            v = args.get(p.name)
            if v is None:
                types[p.name] = None
                static[p.name] = None if p.default is REQUIRED else p.default
                continue
            if isinstance(v, list):  # an index
                types[p.name] = None
                continue
            if isinstance(v.type, AnyType):
                return ir.Op(ANY, loc, op, args)
            bad = self._check_kind(p.kind, v, op)
            if bad:
                return self.error(v.loc, bad[0], expected=bad[1], hint=bad[2] if len(bad) > 2 else None)
            types[p.name] = v.type
            static[p.name] = static_value(v)
            if p.kind == "data":
                static[p.name] = _literal_skeleton(v)
            if p.kind == "shape" and static[p.name] is not None and not isinstance(static[p.name], tuple):
                static[p.name] = (static[p.name],)
            if p.kind == "shape" and static[p.name] is None and isinstance(v.type, SeqType):
                static[p.name] = tuple(static_value(i) for i in v.items) if isinstance(v, ir.Seq) else tuple(None for _ in v.type.items)
        if op == "getitem":
            return ir.Op(args["x"].type, loc, op, args)
        try:
            result = spec.infer(Ctx(op, types, static))
        except ShapeError as exc:
            return self.error(loc, str(exc), expected=exc.expected,
                              hint=getattr(exc, "hint", None) or _shape_hint(op, types, exc))
        except OpTypeError as exc:
            return self.error(loc, str(exc), expected=exc.expected, hint=exc.hint)
        return ir.Op(result, loc, op, _tensor_operand(spec, args, result, loc))

    def _check_kind(self, kind: str, v: ir.Expr, op: str) -> tuple | None:
        t = v.type
        numeric = isinstance(t, ScalarType) and t.kind in ("int", "float", "bool")
        if kind == "tensor" and not (isinstance(t, TensorType) or numeric):
            return (f"`{op}` needs a tensor, got {_a(t)}", "a tensor or a number",
                    "create a tensor with `tensor([...])`, `zeros(...)` or `arange(...)`")
        if kind == "scalar" and not numeric and not (isinstance(t, TensorType) and t.rank == 0):
            return (f"`{op}` needs a number here, got {_a(t)}", "an int or float",
                    "use `.item()` to take the number out of a one-element tensor" if isinstance(t, TensorType)
                    else "pass a single number")
        if kind == "axis":
            sv = static_value(v)
            if not (isinstance(sv, int) or (isinstance(sv, tuple) and all(isinstance(a, int) for a in sv))):
                return (f"the axis of `{op}` must be a constant int", "an int literal such as 0 or -1",
                        "axes are fixed when the chapter compiles; write the number itself rather than a variable")
        if kind == "axes":
            sv = static_value(v)
            if not (isinstance(sv, tuple) and all(isinstance(a, int) for a in sv)):
                return (f"the axes of `{op}` must be constant ints", "a tuple of ints such as (1, 0)",
                        "axes are fixed when the chapter compiles; write the numbers themselves")
        if kind == "flag" and not isinstance(static_value(v), bool):
            return (f"this flag of `{op}` must be True or False", "True or False", "write `True` or `False` directly")
        if kind == "dtype" and not (isinstance(v, ir.Const) and isinstance(v.value, DType)):
            return (f"`{op}` needs a dtype here", "float32, float64, int32, int64 or bool",
                    (did_you_mean(str(static_value(v)), DTYPE_NAMES) if isinstance(v, ir.Const) else None)
                    or "write the dtype name without quotes, e.g. `dtype=float32`")
        from d2lc.core.types import ListType
        if kind == "tensors" and isinstance(t, ListType):
            return None
        if kind == "tensors" and not (isinstance(t, SeqType) and all(isinstance(i, TensorType) for i in t.items)):
            return (f"`{op}` needs a list of tensors", "e.g. [X, Y]", "wrap the tensors in a list: `[X, Y]`")
        if kind == "shape" and not (isinstance(t, SeqType) and all(isinstance(i, ScalarType) and i.kind == "int" for i in t.items)
                                    or t == INT):
            return (f"`{op}` needs a shape (ints), got {_a(t)}", "a tuple of ints such as (3, 4)",
                    "write the shape as a tuple of int literals, e.g. `(3, 4)`, or `X.shape`")
        if kind == "data" and not (isinstance(t, SeqType) or numeric):
            return (f"`{op}` needs a list of numbers, got {_a(t)}", "e.g. [[1, 2], [3, 4]]",
                    "write the values as a (nested) list literal")
        return None


def _shape_hint(op: str, types: dict[str, Type | None], exc: Exception | None = None) -> str | None:
    if exc is not None and str(exc).startswith("axis ") and "out of range" in str(exc):
        return "axes count from 0; negative axes count from the end (-1 is the last)"
    if op == "matmul":
        return "transpose one operand (`.T`) or check which axis holds the features"
    if op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "maximum", "minimum",
              "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "where"):
        return "reshape one operand so the trailing dimensions line up, or index to select matching parts"
    if op == "reshape":
        return "the number of elements must stay the same"
    return None


def _slice_len(d: Any, start: Any, stop: Any, step: Any) -> Any:
    if not isinstance(d, int) or d < 0 or step == 0:
        return None
    if any(v is not None and not isinstance(v, int) for v in (start, stop, step)):
        return None
    return len(range(*slice(start, stop, step).indices(d)))


def _literal_skeleton(v: ir.Expr) -> Any:
    """Nested lists standing for a tensor literal, with a sample Python value of each element's kind."""
    if isinstance(v, ir.Seq):
        return [_literal_skeleton(i) for i in v.items]
    if isinstance(v.type, ScalarType):
        return {"int": 0, "float": 0.0, "bool": False}.get(v.type.kind, 0.0)
    return 0.0


def _tensor_operand(spec, args: dict[str, Any], result: Type, loc) -> dict[str, Any]:
    """A tensor op on Python numbers only (`exp(2.0)`) gets its first operand as a 0-d tensor: its result is
    typed as a tensor, and PyTorch and Paddle ops take no Python numbers (`torch.exp(2.0)` raises)."""
    names = [p.name for p in spec.params if p.kind == "tensor" and isinstance(args.get(p.name), ir.Expr)]
    if not isinstance(result, TensorType) or not names:
        return args
    if any(not isinstance(args[n].type, ScalarType) for n in names):
        return args
    x = args[names[0]]
    wrapped = ir.Op(TensorType(scalar_dtype(x.type), ()), x.loc, "tensor", {"data": x, "dtype": None})
    return {**args, names[0]: wrapped}
