"""Lowering of functions as values: `lambda`, calls through a function value, and the specialisation that checks a
function's body for the functions it is given.

A `def` name or a `lambda` is a value of type `FuncType` (`FuncType(name)` for a `def`, `FuncType("lambda@L:C")` for
a lambda, whose AST and closing scope are kept in `lambdas`). A function that takes a function value (an
unannotated parameter, such as `f` in `def apply(f, x): return f(x)`) is lowered once for the notebook with that
parameter untyped, so `f(x)` has no type there; each call that passes functions (`apply(square, X)`) then lowers
its body again, in a throwaway scope, with every parameter typed by its argument: calls through `f` are checked
against `square` itself, errors in that body point at the body and name the call, and the call's result type is
what the specialised body returns (when the `def` declares none). The emitted code is the one generic body (Python
calls a function value as it is), so every target runs `f(x)` as written.
"""
from __future__ import annotations

import dataclasses

from d2lc.front import ast as A
from d2lc.front.lower_base import RESERVED, LowererBase, Scope, Symbol
from d2lc.core import ir
from d2lc.core.ops import SPECS
from d2lc.core.types import ANY, NONE, AnyType, FuncType, SeqType, TensorType, Type, join
from d2lc.front.lower_pylists import as_list

MAX_SPECIALISATION_DEPTH = 16


class FunctionValueLowering(LowererBase):
    """`lambda`, `f(x)` with `f` a function value, and `apply(square, X)`'s check of `apply`'s body."""

    def expr_Lambda(self, e: A.Lambda) -> ir.Expr:
        if e.keyword != "lambda":
            return self.error(e.loc, f"unexpected name after `{e.keyword}`", expected="an operator between two values",
                              hint="write `lambda x: ...` for a function value, or put an operator between the names")
        for i, p in enumerate(e.params):
            if p in RESERVED or p in e.params[:i]:
                return self.error(e.loc, f"bad lambda parameter `{p}`" + (" (it appears twice)" if p in e.params[:i] else ""),
                                  expected="distinct names that are not keywords", hint="rename the parameter")
        name = f"lambda@{e.loc.line}:{e.loc.col}"
        self.lambdas[name] = (e, self.scope)
        body = self._in_scope(self.scope, {p: ANY for p in e.params}, lambda: self.expr(e.body))
        draw = next((x for x in ir.walk_exprs(body) if isinstance(x, ir.Op) and SPECS[x.op].category == "random"
                     if x.op in SPECS), None)
        if draw is not None:  # as in a `def`: JAX would need the PRNG key as an argument
            return self.error(draw.loc, f"`{draw.op}` inside a lambda", expected="a lambda without random draws",
                              hint="draw the random values outside and pass them in (JAX threads an explicit key)")
        node = ir.Lambda(FuncType(name), e.loc, list(e.params), body)
        self.lambda_nodes[name] = (node, None)  # typed by its first call (`_call_lambda`)
        return node

    def call_value(self, callee: ir.Expr, e: A.Call) -> ir.Expr:
        """`f(x, ...)` where `f` holds a function value: positional arguments, checked (and typed) by the function
        `f` holds where that is known, else (an unannotated parameter before specialisation) untyped."""
        if e.kwargs:
            return self.error(e.kwargs[0].loc, "a call through a function value takes positional arguments only",
                              expected=f"{getattr(callee, 'name', 'f')}(x, ...)", hint="pass the arguments by position")
        args = [self.expr(a) for a in e.args]
        t = callee.type
        result: Type = ANY
        if isinstance(t, FuncType):
            results = [self._call_one(name, args, e) for name in t.candidates()]
            result = self._one_result(t, results, e)
        return ir.Op(result, e.loc, "py_call", {"f": callee, "args": args})

    def _call_one(self, name: str, args: list[ir.Expr], e: A.Call) -> Type:
        """The result type of calling the function or lambda `name` with `args` (ANY when it is not known)."""
        if name in self.lambdas:
            return self._call_lambda(name, args, e)
        if name in self.functions:
            return self._call_user(self.functions[name], e, lowered=args).type
        return ANY

    def _one_result(self, t: FuncType, results: list[Type], e: A.Call) -> Type:
        """A call through a loop variable over several functions is typed by each of them; they must give one
        kind of value (tensors of one dtype and rank, sizes that differ becoming run-time sizes)."""
        out: Type | None = results[0]
        for r in results[1:]:
            out = join(out, r) if out is not None else None
        if out is None:
            shown = ", ".join(f"{_shown(n)} gives {r}" for n, r in zip(t.candidates(), results))
            self.error(e.loc, f"the functions this value takes give different kinds of values here: {shown}",
                       expected="functions that return values of one dtype and rank for these arguments",
                       hint="loop over functions that compute the same kind of value, or call each one by its name")
            return ANY
        return out

    def _call_lambda(self, name: str, args: list[ir.Expr], e: A.Call) -> Type:
        lam, scope = self.lambdas[name]
        if len(args) != len(lam.params):
            self.error(e.loc, f"this lambda takes {len(lam.params)} argument{'s' * (len(lam.params) != 1)} "
                              f"({', '.join(lam.params)}), got {len(args)}", expected=f"{len(lam.params)} arguments",
                       hint=f"see the lambda at line {lam.loc.line}")
            return ANY
        if not self._enter(f"the lambda at line {lam.loc.line}", e):
            return ANY
        before = len(self.diags.items)
        try:
            body = self._in_scope(scope, {p: a.type for p, a in zip(lam.params, args)}, lambda: self.expr(lam.body))
        finally:
            self.specialising.pop()
        if len(self.diags.items) == before:
            self._keep_typed_lambda(name, body, e)
        return body.type

    def _keep_typed_lambda(self, name: str, body: ir.Expr, e: A.Call) -> None:
        """As `_keep_typed_body` for a lambda: its first call types the body the notebook gets (a backend wraps a
        Python number before a tensor op, `torch.exp(torch.tensor(-0.1 * t))`); a later call must agree in dtypes
        and ranks."""
        node, first = self.lambda_nodes.get(name, (None, None))
        if node is None:
            return
        sig = _expr_signature(body)
        if first is None:
            node.body = body
            self.lambda_nodes[name] = (node, (sig, e.loc))
        elif first[0] != sig:
            self.error(e.loc, f"this lambda is called here with values of other dtypes or ranks than at line {first[1].line}",
                       expected=f"arguments of the dtypes and ranks of the call at line {first[1].line}",
                       hint="a lambda is typed by its first call; write a second lambda (or a `def`) for other kinds of values")

    def specialise(self, fdef: ir.FuncDef, args: list[ir.Expr], e: A.Call, result: Type, keep: bool = True) -> Type:
        """Lower `fdef`'s body again with each parameter typed by its argument (functions included); the errors it
        finds name this call. Returns the call's result type: the declared one, else what the body returns.
        `keep`: this call passes functions, so its typed body may become the one the notebook gets."""
        if fdef.name not in self.func_asts:
            return result
        ast, scope = self.func_asts[fdef.name]
        given = ", ".join(f"{p.name}: {a.type}" for p, a in zip(fdef.params, args)) if not keep else ", ".join(f"{p.name}={a.type.name if isinstance(a.type, FuncType) and '@' not in a.type.name else 'a lambda'}"
                          for p, a in zip(fdef.params, args) if isinstance(a.type, FuncType))
        where = f"`{fdef.name}` called with {given} at line {e.loc.line}"
        if not self._enter(where, e):
            return result
        before = len(self.diags.items)
        probe = ir.FuncDef(fdef.loc, fdef.name, fdef.params, fdef.result, [])
        try:
            # a list written out is, inside the body, the run-time list it becomes (`tokens[:n]`, `tokens + [...]`)
            types = {p.name: (as_list(a.type) if isinstance(a.type, SeqType) and a.type.kind == "list" else a.type)
                     if isinstance(p.type, AnyType) else p.type for p, a in zip(fdef.params, args)}
            fscope = Scope(parent=scope, func=probe)
            fscope.symbols.update({n: Symbol(t) for n, t in types.items()})
            outer, self.scope = self.scope, fscope
            saved_loop, self._in_loop = self._in_loop, 0
            try:
                body = self.block(ast.body)
            finally:
                self.scope, self._in_loop = outer, saved_loop
        finally:
            self.specialising.pop()
        self._name_the_call(before, where)
        if keep and len(self.diags.items) == before:
            self._keep_typed_body(fdef, body, e)
        elif not keep and len(self.diags.items) == before:
            self._record_untyped_call(fdef, body)
        if not isinstance(fdef.result, AnyType):
            return result
        returns = [r for r in ir.walk_stmts(body) if isinstance(r, ir.Return) and r.value is not None]
        return returns[-1].value.type if returns else NONE

    def _keep_typed_body(self, fdef: ir.FuncDef, body: list[ir.Stmt], e: A.Call) -> None:
        """The first call that passes functions types the body the notebook gets (a backend's casts and spellings
        follow dtypes and ranks); a later call must give every value of that body the same dtype and rank."""
        sig = _signature(body)
        first = self.specialised.get(fdef.name)
        if first is None:
            self.specialised[fdef.name] = (sig, e.loc)
            fdef.body = body
        elif first[0] != sig:
            self.error(e.loc, f"`{fdef.name}` is called here with values of other dtypes or ranks than at line {first[1].line}",
                       expected=f"arguments (and function results) of the dtypes and ranks of the call at line {first[1].line}",
                       hint=f"a function that takes functions is typed by its first such call; define a second `def` for "
                            f"other kinds of values, or annotate `{fdef.name}`'s parameters")

    def _record_untyped_call(self, fdef: ir.FuncDef, body: list[ir.Stmt]) -> None:
        """A direct call of an untyped `def` typed its body; if every such call types it alike (the same dtype and
        rank of every value), that typed body is the one the notebook gets (`settle_untyped_bodies`)."""
        first = self.untyped_bodies.get(fdef.name)
        if first is None:
            self.untyped_bodies[fdef.name] = (_signature(body), body, fdef)
        elif first[0] is not None and first[0] != _signature(body):
            self.untyped_bodies[fdef.name] = (None, [], fdef)  # called with other kinds of values: the generic body

    def settle_untyped_bodies(self) -> None:
        """After the chapter: each untyped `def` whose direct calls all typed its body alike gets that body, so its
        values carry the dtypes and ranks a backend's spellings need (`x.sum()` of an int32 tensor)."""
        for name, (sig, body, fdef) in self.untyped_bodies.items():
            if sig is not None and name not in self.specialised:
                fdef.body = body

    def _enter(self, where: str, e: A.Call) -> bool:
        if len(self.specialising) >= MAX_SPECIALISATION_DEPTH or where in self.specialising:
            self.error(e.loc, "function values nest too deeply here (a function passed to itself, or a chain of more "
                              f"than {MAX_SPECIALISATION_DEPTH} calls passing functions)",
                       expected="a function value passed down a few calls", hint="call the function directly")
            return False
        self.specialising.append(where)
        return True

    def _name_the_call(self, before: int, where: str) -> None:
        """The errors a specialisation found say which call they come from; one already reported is not repeated."""
        new = self.diags.items[before:]
        del self.diags.items[before:]
        seen = {(d.loc, d.message.split(" (in `")[0]) for d in self.diags.items}
        for d in new:
            key = (d.loc, d.message.split(" (in `")[0])
            if key not in seen:
                seen.add(key)
                self.diags.items.append(d if "(in `" in d.message else dataclasses.replace(d, message=f"{d.message} (in {where})"))

    def _in_scope(self, parent: Scope, symbols: dict[str, Type], lower):
        scope = Scope(parent=parent, func=parent_func(parent))
        scope.symbols.update({n: Symbol(t) for n, t in symbols.items()})
        outer, self.scope = self.scope, scope
        try:
            return lower()
        finally:
            self.scope = outer


def _type_key(t: Type) -> object:
    return (t.dtype, t.rank) if isinstance(t, TensorType) else type(t).__name__ + str(getattr(t, "kind", ""))


def _expr_signature(body: ir.Expr) -> tuple:
    """The dtype and rank (or kind) of every value an expression computes, in order."""
    return tuple(_type_key(x.type) for x in ir.walk_exprs(body))


def _signature(body: list[ir.Stmt]) -> tuple:
    """The dtype and rank (or kind) of every value a body computes, in order."""
    out = []
    for s in ir.walk_stmts(body):
        for x in ir.own_exprs(s):
            out.append(_type_key(x.type))
    return tuple(out)


def parent_func(scope: Scope | None) -> ir.FuncDef | None:
    while scope is not None:
        if scope.func is not None:
            return scope.func
        scope = scope.parent
    return None


def _shown(name: str) -> str:
    """A function value as an error names it: `gaussian`, or the lambda at line L."""
    return f"the lambda at line {name.split('@')[1].split(':')[0]}" if name.startswith("lambda@") else f"`{name}`"
