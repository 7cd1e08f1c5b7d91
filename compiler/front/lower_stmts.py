"""Lowering of statements: assignments, `for`, `if`, `def` (with its signature and result checks), `return`."""
from __future__ import annotations

from d2lc.front import ast as A
from d2lc.front.lower_base import RESERVED, RESERVED_BUILTINS, LowererBase, Scope, Symbol, TO_TENSOR, article
from d2lc.front.lower_lists import is_list_iter, lower_list_for
from d2lc.front.lower_loops import is_step_loop, lower_step_loop, stray_step
from d2lc.front.lower_models import lower_model, lower_train
from d2lc.front.lower_reads import data_part, is_read, lower_batch_loop, lower_next, trains
from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.diagnostics import Loc, did_you_mean
from d2lc.core.types import ANY, DTYPE_NAMES, INT, NONE, AnyType, DType, FuncType, ListType, ScalarType, SeqType, TableType, TensorType, Type, conforms, elements, join


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
        if isinstance(s.target, A.Attribute) or isinstance(s.target, A.Subscript) and not isinstance(s.target.value, A.Name):
            return self.param_write(s.target, self.expr(s.value), s.loc)  # `net.out.weight = W` (lower_param_writes)
        if isinstance(s.target, A.Subscript):
            return self.index_assign(s.target, self.expr(s.value), s.loc)
        if isinstance(s.target, A.TupleLit):
            value = lower_next(self, s.value, unpacking=True) if is_read(s.value) else self.expr(s.value)
            return self._unpack(s.target, value, s.loc)
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

    def _bindable(self, name: str, loc: Loc) -> bool:
        if self.reserved_word(name, loc):
            return False
        if name in RESERVED_BUILTINS:
            self.error(loc, f"`{name}` is a built-in and cannot be reassigned", expected="a name that is not a built-in",
                       hint=f"pick another name, e.g. `{name}_`")
            return False
        return True

    def _unpack(self, target: A.TupleLit, value: ir.Expr, loc: Loc) -> ir.Stmt | None:
        """`a, b = value`: as many names as the tuple has items, each bound to its item's type (and value)."""
        bad = next((t for t in target.items if not isinstance(t, A.Name)), None)
        if bad is not None:
            self.error(bad.loc, "an unpacking assigns to names only", expected="a, b = ...",
                       hint="unpack into names, then assign into the tensor on its own line")
            return None
        names = [t.id for t in target.items]
        dup = next((t for i, t in enumerate(target.items) if t.id in names[:i]), None)
        if dup is not None:
            self.error(dup.loc, f"`{dup.id}` appears twice on the left of an unpacking", expected="distinct names",
                       hint="use `_unused` or another name for a value you do not need")
            return None
        items = self.unpacked_types(value, len(names), "the left side has")
        if items is None:
            return None
        if not all(self._bindable(t.id, t.loc) for t in target.items):
            return None
        for i, name in enumerate(names):
            const = static_value(value.items[i]) if isinstance(value, ir.Seq) and not self._in_loop else None
            self.scope.symbols[name] = Symbol(items[i], const)
        return ir.Unpack(loc, names, value)

    def unpacked_types(self, value: ir.Expr, n: int, what: str) -> list[Type] | None:
        """The types of the `n` items a value unpacks into; an error (None) for another arity or a value that is
        not a tuple. `what` says who wants `n`: "the left side has", "the loop unpacks"."""
        t = value.type
        if isinstance(t, AnyType):
            return [ANY] * n
        if isinstance(t, SeqType) and len(t.items) == n:
            return list(t.items)
        names = "name" if what.startswith("the left") else "loop variable"
        if isinstance(t, SeqType):
            self.error(value.loc, f"cannot unpack a tuple of {len(t.items)} value{'s' * (len(t.items) != 1)} into {n} {names}s",
                       expected=f"a tuple of {n} values ({what} {n} {names}s)",
                       hint=f"write {len(t.items)} {names}{'s' * (len(t.items) != 1)}, or index the tuple (`t[0]`)")
        elif isinstance(t, ListType):
            self.error(value.loc, "cannot unpack a list built with `append`: its length is known only when it runs",
                       expected=f"a tuple of {n} values", hint="index the list, or return a tuple (`return a, b`)")
        else:
            self.error(value.loc, f"cannot unpack {article(t)}", expected=f"a tuple of {n} values ({what} {n} {names}s)",
                       hint="unpack a tuple, e.g. the result of a function that ends with `return a, b`")
        return None

    def _bind(self, target: A.Name, value: ir.Expr, loc: Loc) -> ir.Stmt | None:
        name = target.id
        if not self._bindable(name, target.loc):
            return None
        if isinstance(value.type, (ScalarType,)) and value.type.kind == "none":
            self.error(value.loc, "this expression has no value to assign", expected="an expression with a value",
                       hint="`print(...)` returns nothing; call it on its own line")
        if isinstance(value, ir.Seq) and value.kind == "list" and not value.items:
            value = ir.Seq(ListType(None), value.loc, [], "list")
        const = static_value(value) if not self._in_loop else None
        layer = value if isinstance(value, ir.Layer) else None
        self.scope.symbols[name] = Symbol(value.type, const, layer=layer, instance=value if isinstance(value, ir.NewModel) else None)
        if isinstance(value, ir.BoundOptimizer):
            self.bound_optimizers[name] = value
        return ir.Assign(loc, name, value)

    def stmt_AugAssign(self, s: A.AugAssign) -> ir.Stmt | None:
        combined = A.BinOp(s.loc, s.op, s.target, s.value)
        out = self.stmt_Assign(A.Assign(s.loc, s.target, combined))
        v = out.value if isinstance(out, ir.ParamWrite) and out.index is None else None
        if isinstance(v, ir.Op) and v.op in ("add", "sub", "mul", "truediv") and isinstance(v.args.get("x"), ir.ParamRef) \
                and isinstance(v.args["y"].type, ScalarType):
            out.aug = v.op  # `net.out.bias += 1`: each framework's in-place update
        return out

    def stmt_ExprStmt(self, s: A.ExprStmt) -> ir.Stmt | None:
        v = s.value
        if isinstance(v, A.Call) and isinstance(v.func, A.Name) and v.func.id == "train" and self.scope.lookup("train") is None:
            return lower_train(self, v)
        stray = stray_step(self, s)
        if stray is not None:
            return stray
        return ir.ExprStmt(s.loc, self.expr(s.value))

    def stmt_Pass(self, s: A.Pass) -> ir.Stmt:
        return ir.Pass(s.loc)

    def stmt_Jump(self, s: A.Jump) -> ir.Stmt | None:
        """`break` / `continue`: in a `for` or `while` of the same function (or of the top level), not in a model."""
        if self.current_model is not None:
            self.error(s.loc, f"`{s.kind}` in a model", expected="a loop of the chapter's top level or of a `def`",
                       hint="a model's forward runs every layer of its loops; select layers with a slice of the list instead")
            return None
        if not self._loop_scopes or self._loop_scopes[-1] is not self.scope:
            self.error(s.loc, f"`{s.kind}` outside a loop", expected=f"`{s.kind}` inside a `for` or `while` body",
                       hint="a `def` inside a loop has loops of its own; return from it instead" if self._loop_scopes
                       else "to stop early, put the statements in a loop, or use `if`")
            return None
        return ir.Jump(s.loc, s.kind)

    def stmt_Return(self, s: A.Return) -> ir.Stmt | None:
        if self.scope.func is None:
            self.error(s.loc, "`return` outside a function", expected="`return` inside the body of a `def`",
                       hint="indent it under a `def`, or assign the value to a name instead")
            return None
        return ir.Return(s.loc, self.expr(s.value) if s.value is not None else None)

    def stmt_For(self, s: A.For) -> ir.Stmt | None:
        if is_list_iter(self, s.iter):  # `for blk in blocks:` in forward, over a layer list member
            return lower_list_for(self, s)
        part = data_part(self, s.iter)
        if part is not None and not (part[1] == "train" and trains(self, s.body)):
            return lower_batch_loop(self, s, *part)  # a loop that only reads the batches (lower_reads)
        if is_step_loop(self, s):  # `for X, y in data.train:` ending with `opt.step(loss)` (lower_loops)
            return lower_step_loop(self, s)
        it = s.iter
        if not (isinstance(it, A.Call) and isinstance(it.func, A.Name) and it.func.id == "range" and self.scope.lookup("range") is None):
            return self._for_items(s)
        if len(s.targets) != 1:
            self.error(s.loc, "a loop over `range(...)` takes one loop variable", expected="for i in range(n):",
                       hint="unpack inside the loop, or loop over `enumerate(xs)` / `zip(xs, ys)`")
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
        return ir.For(s.loc, s.targets[0], rng, self._loop_body(s))

    def _loop_body(self, s: A.For) -> list[ir.Stmt]:
        self._in_loop += 1
        self._loop_scopes.append(self.scope)
        self._forget_consts(s.body)
        try:
            return self.block(s.body)
        finally:
            self._in_loop -= 1
            self._loop_scopes.pop()

    def _for_items(self, s: A.For) -> ir.Stmt | None:
        """`for x in xs`, `for a, b in pairs`, `for i, x in enumerate(xs)`, `for x, y in zip(xs, ys)`: a loop over the
        items of a tuple or a list; every item must have one type (the loop variable's), and an unpacking loop's
        items are tuples of as many values as it has names."""
        it = s.iter
        call = it.func.id if isinstance(it, A.Call) and isinstance(it.func, A.Name) and it.func.id in ("enumerate", "zip") \
            and self.scope.lookup(it.func.id) is None else None
        if call is not None:
            seqs = [self.expr(a) for a in it.args]
            if it.kwargs or not seqs or (call == "enumerate" and len(seqs) != 1):
                self.error(it.loc, f"`{call}` takes {'one tuple or list' if call == 'enumerate' else 'tuples or lists'}, by position",
                           expected="enumerate(xs)" if call == "enumerate" else "zip(xs, ys)", hint="pass the sequences positionally")
                return None
        else:
            seqs = [self.expr(it)]
        elems: list[Type] = []
        for v in seqs:
            elem = elements(v.type)
            if elem is None:
                if isinstance(v.type, SeqType):
                    self.error(v.loc, f"the items of this {v.type.kind} have different types ({', '.join(map(str, v.type.items))})",
                               expected="items of one type (tensors of one dtype and rank, numbers, tuples of one length)",
                               hint="loop over `range(len(...))` and index, or split the loop in two")
                else:
                    self.error(v.loc, f"a `for` loop cannot run over {article(v.type)}",
                               expected="range(...), a tuple or list, enumerate(xs) or zip(xs, ys)",
                               hint="to visit the rows of a tensor, loop over `range(X.shape[0])` and index `X[i]`"
                               if isinstance(v.type, TensorType) else "loop over a tuple such as `(1, 2, 3)`")
                return None
            elems.append(elem)
        if call == "enumerate":
            elem = SeqType((INT, elems[0]))
            iter_ = ir.Op(ListType(elem), it.loc, "py_enumerate", {"xs": seqs[0]})
        elif call == "zip":
            elem = SeqType(tuple(elems))
            iter_ = ir.Op(ListType(elem), it.loc, "py_zip", {"xs": seqs})
        else:
            elem, iter_ = elems[0], seqs[0]
        col = s.loc.col + 4
        names = list(s.targets)
        if len(names) == 1:
            types = [elem]
        else:
            types = self.unpacked_types(ir.Const(elem, iter_.loc, None), len(names), "the loop unpacks")
            if types is None:
                return None
        for name, t in zip(names, types):
            if not self._bindable(name, Loc(s.loc.file, s.loc.line, col, col + len(name))):
                return None
            col += len(name) + 2
            self.scope.symbols[name] = Symbol(t)
        return ir.For(s.loc, names[0], iter_, self._loop_body(s), names if len(names) > 1 else [])

    def _forget_consts(self, body: list[A.Node]) -> None:
        for node in body:
            if isinstance(node, A.Assign) and isinstance(node.target, A.Name):
                sym = self.scope.lookup(node.target.id)
                if sym is not None:
                    sym.const = None

    def stmt_While(self, s: A.While) -> ir.Stmt:
        """`while cond:` at the top level or in a function; its condition is read as an `if` condition."""
        self._forget_consts(s.body)
        cond = self._truth_value(s.test, "a `while`", "compare one value, e.g. `X.abs().sum() > 1`")
        self._in_loop += 1
        self._loop_scopes.append(self.scope)
        try:
            body = self.block(s.body)
        finally:
            self._in_loop -= 1
            self._loop_scopes.pop()
        return ir.While(s.loc, "", cond, body)

    def _truth_value(self, test: A.Node, statement: str, hint: str) -> ir.Expr:
        """The condition of `statement` (an `if`, a `while`): a bool, or a rank-0 bool tensor."""
        cond = self.expr(test)
        t = cond.type
        if isinstance(t, TableType):
            self.error(cond.loc, f"{statement} condition must be a single truth value, got a table", expected="a bool",
                       hint="a table's number of rows is df.shape[0]; its values, as a tensor: " + TO_TENSOR.split(": ", 1)[1])
        if isinstance(t, TensorType) and (t.rank != 0 or t.dtype != DType.bool):
            self.error(cond.loc, f"{statement} condition must be a single truth value, got {article(t)} tensor",
                       expected="a bool or a rank-0 bool tensor", hint=hint)
        return cond

    def stmt_If(self, s: A.If) -> ir.Stmt:
        cond = self._truth_value(s.test, "an `if`", "reduce it to one value first, e.g. `X.sum().item() > 0`, "
                                                    "or use `where(...)` elementwise")
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
            default = self.expr(p.default) if p.default is not None else None
            ptype = self.ann_type(p.ann, default) if p.ann else ANY
            params.append(ir.Param(p.name, ptype, default, p.loc))
            fscope.symbols[p.name] = Symbol(ptype)
        declared = self.ann_type(s.returns) if s.returns else None
        fdef = ir.FuncDef(s.loc, s.name, params, declared or ANY, [], save=self.save_marker(s) if register else False)
        if register:
            self.globals.symbols[s.name] = Symbol(FuncType(s.name), func=fdef)
            self.functions[s.name] = fdef
            self.func_asts[s.name] = (s, scope_parent or self.globals)
        fscope.func = fdef
        outer, self.scope = self.scope, fscope
        try:
            fdef.body = self.block(s.body)
        finally:
            self.scope = outer
        returns = [r for r in ir.walk_stmts(fdef.body) if isinstance(r, ir.Return) and r.value is not None]
        inferred = result_of(returns, [r for r in reachable_returns(fdef.body)[0] if r.value is not None])
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
            if not conforms(got, declared):
                self.error(r.value.loc, f"`{s.name}` returns {got}, but its signature says {declared}",
                           expected=str(declared), hint="fix the return annotation or the computation")

    def stmt_ModelDef(self, s: A.ModelDef) -> ir.Stmt | None:
        return lower_model(self, s)

    def ann_type(self, ann: A.TypeAnn, default: ir.Expr | None = None) -> Type:
        if ann.name == "tuple":
            return self._tuple_type(ann, default)
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
        nested = next((d for d in ann.dims if isinstance(d, A.TypeAnn)), None)
        if nested is not None:
            self.error(nested.loc, f"a dimension of a tensor type is a name or an int, got `{nested.name}[...]`",
                       expected="e.g. f32[n, 3]", hint="a tuple of types is written tuple[f32[n], i64[]]")
            return ANY
        return TensorType(DTYPE_NAMES[ann.name], tuple(ann.dims))

    def _tuple_type(self, ann: A.TypeAnn, default: ir.Expr | None) -> Type:
        """`tuple[f32[n], int]`: a tuple of those item types; a bare `tuple` takes its default's (structure known
        when the chapter compiles, e.g. `arch: tuple = ((1, 64), (2, 128))`)."""
        if ann.dims is None:
            if default is not None and isinstance(default.type, (SeqType, AnyType)):
                return default.type
            self.error(ann.loc, "a bare `tuple` annotation needs a tuple default", expected="arch: tuple = ((1, 64), (2, 128))",
                       hint="give the parameter a tuple default, or spell its items: tuple[f32[n], int]")
            return ANY
        items = []
        for d in ann.dims:
            if isinstance(d, int):
                self.error(ann.loc, f"`tuple[...]` lists the types of its items, got `{d}`", expected="tuple[f32[n], int]",
                           hint="write one type per item")
                return ANY
            items.append(self.ann_type(d if isinstance(d, A.TypeAnn) else A.TypeAnn(ann.loc, d, None)))
        t = SeqType(tuple(items))
        if default is not None and not conforms(default.type, t):
            self.error(default.loc, f"the default {default.type} does not match the annotation {t}", expected=str(t),
                       hint="change the default or the annotation")
        return t


def reachable_returns(stmts: list[ir.Stmt]) -> tuple[list[ir.Return], bool]:
    """The `return`s control can reach, in order, and whether every path through `stmts` returns: a branch on a value
    known when the chapter compiles (a model's hyperparameter, `if down:`) takes one side only, so the other side's
    result does not type the call (it typed `Block(8, 2, True)` by the fall-through `return body(X) + X`)."""
    out: list[ir.Return] = []
    for s in stmts:
        if isinstance(s, ir.Return):
            return out + [s], True
        if isinstance(s, ir.If):
            known = static_value(s.cond)
            if isinstance(known, (bool, int)):
                taken, done = reachable_returns(s.body if known else s.orelse)
                out += taken
                if done:
                    return out, True
                continue
            (yes, done_yes), (no, done_no) = reachable_returns(s.body), reachable_returns(s.orelse)
            out += yes + no
            if done_yes and done_no:
                return out, True
        elif isinstance(s, ir.For):  # a loop may run no pass
            out += reachable_returns(s.body)[0]
    return out, False


def result_of(returns: list[ir.Return], reachable: list[ir.Return]) -> Type:
    """The inferred result of a function or forward: one type for every return control can reach (a size in which
    they differ is unknown), not the last return's alone (a branch on a hyperparameter typed the other branch)."""
    if not returns:
        return NONE
    result = reachable[0].value.type if reachable else returns[-1].value.type
    for r in reachable[1:]:
        result = join(result, r.value.type) or returns[-1].value.type
    return result
