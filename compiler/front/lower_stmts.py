"""Lowering of statements: assignments, `for`, `if`, `def` (with its signature and result checks), `return`."""
from __future__ import annotations

from d2lc.front import ast as A
from d2lc.front.lower_base import RESERVED, RESERVED_BUILTINS, LowererBase, Scope, Symbol, article
from d2lc.front.lower_lists import is_list_iter, lower_list_for
from d2lc.front.lower_models import lower_model, lower_train
from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.diagnostics import Loc, did_you_mean
from d2lc.core.types import ANY, DTYPE_NAMES, INT, NONE, AnyType, DType, FuncType, ListType, ScalarType, SeqType, TensorType, Type, dims_equal


class StatementLowering(LowererBase):
    """Statements; an indexed assignment (`X[i] = v`) goes to the indexing mixin's `index_assign`."""

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
            return self.index_assign(s.target, self.expr(s.value), s.loc)
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
            value = ir.Seq(ListType(None), value.loc, [], "list")
        const = static_value(value) if not self._in_loop else None
        layer = value if isinstance(value, ir.Layer) else None
        self.scope.symbols[name] = Symbol(value.type, const, layer=layer)
        return ir.Assign(loc, name, value)

    def stmt_AugAssign(self, s: A.AugAssign) -> ir.Stmt | None:
        combined = A.BinOp(s.loc, s.op, s.target, s.value)
        return self.stmt_Assign(A.Assign(s.loc, s.target, combined))

    def stmt_ExprStmt(self, s: A.ExprStmt) -> ir.Stmt | None:
        v = s.value
        if isinstance(v, A.Call) and isinstance(v.func, A.Name) and v.func.id == "train" and self.scope.lookup("train") is None:
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
        if is_list_iter(self, s.iter):  # `for blk in blocks:` in forward, over a layer list member
            return lower_list_for(self, s)
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
            self.error(cond.loc, f"an `if` condition must be a single truth value, got {article(t)} tensor",
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
            ptype = self.ann_type(p.ann) if p.ann else ANY
            default = self.expr(p.default) if p.default is not None else None
            params.append(ir.Param(p.name, ptype, default, p.loc))
            fscope.symbols[p.name] = Symbol(ptype)
        declared = self.ann_type(s.returns) if s.returns else None
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
        return lower_model(self, s)

    def ann_type(self, ann: A.TypeAnn) -> Type:
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
