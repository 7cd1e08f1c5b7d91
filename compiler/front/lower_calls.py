"""Lowering of calls: methods, built-ins, chapter functions (argument binding and shape checks), `grad`, `append`.

Calls of layers, models, optimizers and data sets go to lower_models.py; op calls to the op binding of lower.py.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

from d2lc.front import ast as A
from d2lc.front.lower_base import RESERVED, LowererBase, article
from d2lc.front.lower_models import lower_apply, lower_call
from d2lc.front.lower_files import FILE_CALLS
from d2lc.front.lower_plots import DATA_FROM, lower_figure
from d2lc.front.lower_pylists import as_list, extended_type, is_plain, is_pylist_operand
from d2lc.front.lower_reads import READ_CALLS
from d2lc.front.lower_text import lower_tensor_of_list, lower_text_call, lower_text_method, lower_tolist
from d2lc.front.lower_tables import TABLE_CALLS, TO_TENSOR, Lowered, is_table
from d2lc.core import ir
from d2lc.core.diagnostics import did_you_mean
from d2lc.core.ops import FUNCTIONS, METHODS
from d2lc.core.plots import PLOTS
from d2lc.core.text import TEXT_FUNCTIONS, is_text
from d2lc.core.types import ANY, FLOAT, FuncType, INT, NONE, AnyType, LayerType, ListType, ModelType, ScalarType, SeqType, TensorType, Type, dims_equal, fmt_shape, substitute


class CallLowering(LowererBase):
    """`f(...)` and `x.m(...)` in all their forms."""

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
        if isinstance(f, A.Attribute) and f.attr == "extend":
            return self._extend(f, e)
        if isinstance(f, A.Attribute):
            base = self.expr(f.value)
            if is_text(base.type):  # string methods, `vocab.to_tokens(...)` (lower_text)
                return lower_text_method(self, base, f, e)
            if f.attr == "tolist" and isinstance(base.type, (TensorType, AnyType)):
                return lower_tolist(self, base, e)
            if is_table(base.type):  # `df.fillna(...)`, `df.mean()`: pandas methods (lower_tables)
                return self.table_method(base, f, e)
            if f.attr in METHODS:
                if isinstance(base.type, (TensorType, AnyType)):
                    return self.call_op(METHODS[f.attr], [base] + [self.expr(a) for a in e.args], e, f"x.{f.attr}")
                for a in e.args:
                    self.expr(a)
                return self.error(f.loc, f"{article(base.type)} has no method `.{f.attr}`", expected="a tensor",
                                  hint=f"`.{f.attr}()` is a tensor method; make a tensor with `tensor(...)` first"
                                  if isinstance(base.type, ScalarType) else f"call `.{f.attr}()` on a tensor")
            if isinstance(base.type, AnyType):  # after an error reported on the base
                for a in e.args:
                    self.expr(a)
                return ir.Const(ANY, e.loc, None)
            return self.error(f.loc, f"tensors have no method `.{f.attr}`", expected="a DSL tensor method",
                              hint=did_you_mean(f.attr, METHODS) or "see docs/dsl.md for the methods")
        if not isinstance(f, A.Name):
            made_inline = isinstance(f, A.Call) and isinstance(f.func, A.Name)  # `MLP()(X)`, `Linear(2)(X)`
            return self.error(f.loc, "only named functions can be called", expected="name(...)",
                              hint=f"assign it to a name first, e.g. `net = {f.func.id}(...)`, then call `net(X)`"
                              if made_inline else "call a built-in or a function defined with `def`")
        name = f.id
        sym = self.scope.lookup(name)
        if sym is not None and sym.func is not None:
            return self._call_user(sym.func, e)
        if sym is not None and isinstance(sym.type, (FuncType, AnyType)):  # a function value: a parameter, a lambda
            return self.call_value(ir.Var(sym.type, f.loc, name), e)
        if sym is not None and (isinstance(sym.type, LayerType) or isinstance(sym.type, ModelType) and not sym.type.is_class):
            args = [self.expr(a) for a in e.args]
            table = next((a for a in args if is_table(a.type)), None)
            if table is not None:
                return self.error(table.loc, f"`{name}` computes on tensors, got a table: a table is not a tensor",
                                  expected="a tensor", hint=TO_TENSOR)
            given = replace(e, args=[Lowered(a.loc, x) for a, x in zip(e.args, args)])  # lowered once
            return lower_apply(self, given, sym.type, name, sym.layer)
        if sym is None and name == "num_params":
            return self.num_params_call(e)
        if sym is None and name in FILE_CALLS:
            return self.file_call(e, name)
        if sym is None and name in TABLE_CALLS:
            return self.table_call(e, name)
        if sym is None and name == "concat" and e.args and isinstance(e.args[0], A.ListLit):
            first = self.expr(e.args[0])  # `concat([df1, df2])` of tables (lower_tables); of tensors, the op
            if any(is_table(t) for t in first.type.items):
                return self.table_concat(e, first)
            return self.call_op(FUNCTIONS[name], [first] + [self.expr(a) for a in e.args[1:]], e, name)
        if sym is None and name == "tensor" and e.args and not isinstance(e.args[0], (A.ListLit, A.TupleLit, A.Literal)):
            x = self.expr(e.args[0])
            if is_table(x.type):  # `tensor(df, dtype=float32)`: a table's values as a tensor
                return self.table_to_tensor(e, x)
            if isinstance(x.type, ListType) and len(e.args) == 1 and all(kw.name == "dtype" for kw in e.kwargs):
                # `tensor(vocab[tokens])`: a run-time list of numbers (lower_text)
                return lower_tensor_of_list(self, x, self.expr(e.kwargs[0].value) if e.kwargs else None, e.loc)
            return self.call_op(FUNCTIONS[name], [x] + [self.expr(a) for a in e.args[1:]], e, name)
        if sym is None and name in PLOTS:
            return lower_figure(self, e, name)
        if sym is None and name in DATA_FROM:
            return DATA_FROM[name](self, e)
        if sym is None and name in TEXT_FUNCTIONS:
            return lower_text_call(self, e, name)
        if sym is None and name in READ_CALLS:  # next(iter(data.train)), time(), text_labels(y) (lower_reads)
            return READ_CALLS[name](self, e)
        if sym is None or isinstance(sym.type, ModelType):
            lowered = lower_call(self, e, name)
            if lowered is not None:
                return lowered
        if name == "train":
            return self.error(f.loc, "`train(...)` is a statement; write it on its own line", expected="train(...) as a statement",
                              hint="`train` updates the model in place and returns nothing to assign")
        if sym is not None:
            return self.error(f.loc, f"`{name}` is {article(sym.type)}, not a function", expected="a function",
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
            shown = self.show_model(e)  # `print(net)`: the framework's printout of a model (lower_param_writes)
            if shown is not None:
                return shown
            values = [self.expr(a) for a in e.args]
            if e.kwargs:
                self.error(e.kwargs[0].loc, "`print` takes no keyword arguments", expected="print(value, ...)",
                           hint="pass the values positionally")
            return ir.Op(NONE, e.loc, "print", {"values": values})
        if name == "len" and len(e.args) == 1 and not e.kwargs:
            x = self.expr(e.args[0])
            if isinstance(x.type, (SeqType, ListType)) or is_text(x.type):  # a tuple's, list's, string's or vocabulary's
                # length; `len(X)` of a tensor is the op
                return ir.Op(INT, e.loc, "py_len", {"x": x})
            return self.call_op(FUNCTIONS[name], [x], e, name)
        if name in ("enumerate", "zip"):
            for a in e.args:
                self.expr(a)
            return self.error(f.loc, f"`{name}` is only allowed as the iterable of a `for` loop",
                              expected="for i, x in enumerate(xs):" if name == "enumerate" else "for x, y in zip(xs, ys):",
                              hint="loop over it, and build a tuple of the results if you need one")
        if name == "tensor" and e.args:
            args = [self.expr(a) for a in e.args]
            if isinstance(args[0].type, ListType) and len(args) == 1 and all(kw.name == "dtype" for kw in e.kwargs):
                return lower_tensor_of_list(self, args[0], self.expr(e.kwargs[0].value) if e.kwargs else None, e.loc)
            return self.call_op(FUNCTIONS[name], args, e, name)
        if name in ("max", "min") and len(e.args) >= 2 and not e.kwargs:
            return self._extreme(name, [self.expr(a) for a in e.args], e)
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

    def _extreme(self, name: str, args: list[ir.Expr], e: A.Call) -> ir.Expr:
        """`max(a, b, ...)` / `min(a, b, ...)` of Python numbers: Python's own, as nested `maximum`/`minimum` of
        numbers (emitted `max(a, b)`); with a tensor first, `max(x, axis)` stays the reduction."""
        if not all(_is_number(a.type) for a in args):
            if not any(isinstance(a.type, (TensorType, AnyType)) for a in args):
                bad = next(a for a in args if not _is_number(a.type))
                return self.error(bad.loc, f"`{name}` of several values takes Python numbers, got {article(bad.type)}",
                                  expected=f"{name}(a, b) of ints or floats", hint=f"for tensors, use `{name}imum(x, y)` "
                                  f"(elementwise) or `{name}(x, axis=...)` (a reduction)")
            return self.call_op(FUNCTIONS[name], args, e, name)
        out = args[0]
        for a in args[1:]:
            out = self.call_op(FUNCTIONS[name + "imum"], [out, a], e, name + "imum")
        return out

    def _append(self, f: A.Attribute, e: A.Call) -> ir.Expr:
        base = self.expr(f.value)
        if not isinstance(base.type, ListType):
            return self.error(f.loc, f"`.append` is for lists, not {article(base.type)}", expected="a list made with `name = []`",
                              hint="start an empty list with `name = []`, then append to it")
        if len(e.args) != 1 or e.kwargs:
            return self.error(e.loc, "`append` takes one value", expected="name.append(value)", hint="append values one at a time")
        item = self.expr(e.args[0])
        if isinstance(item.type, AnyType) and base.type.elem is not None:  # a value of an unannotated function's
            return ir.Op(NONE, e.loc, "list_append", {"xs": base, "x": item})  # parameter: the list keeps its type
        if isinstance(item.type, ScalarType) and item.type.kind in ("int", "float", "bool", "str"):
            return self._append_value(base, item, e)
        if is_pylist_operand(item.type) and is_plain(as_list(item.type)):  # a sentence's tokens: a list of lists
            return self._append_value(base, item, e, as_list(item.type))
        if not isinstance(item.type, (TensorType, AnyType)):
            return self.error(item.loc, f"lists hold tensors, numbers or strings, got {article(item.type)}",
                              expected="a tensor, a number or a string", hint="append one value at a time")
        if isinstance(base.type.elem, ScalarType):
            return self.error(item.loc, f"this list holds {base.type.elem} values; appending {article(item.type)}",
                              expected=f"{article(base.type.elem)}", hint="a list holds values of one type; start another list")
        if base.type.elem is not None and isinstance(item.type, TensorType) and isinstance(base.type.elem, TensorType):
            old = base.type.elem
            if old.dtype != item.type.dtype or old.rank != item.type.rank:
                return self.error(item.loc, f"this list holds {old} tensors; appending {article(item.type)}", expected=str(old),
                                  hint="a list holds tensors of one dtype and rank; cast or reshape first")
        return self._appended(base, item, e)

    def _appended(self, base: ir.Expr, item: ir.Expr, e: A.Call, t: Type | None = None) -> ir.Expr:
        """The append op; a list bound to a name now holds `item`'s type (`t` where it differs)."""
        if isinstance(base, ir.Var):
            sym = self.scope.lookup(base.name)
            if sym is not None:
                sym.type = ListType(t or item.type)
        return ir.Op(NONE, e.loc, "list_append", {"xs": base, "x": item})

    def _append_value(self, base: ir.Expr, item: ir.Expr, e: A.Call, t: Type | None = None) -> ir.Expr:
        """`xs.append(n)` of a number, a string or a list of them: a run-time list of Python values of one kind (word
        counts, tokens, sentences), for `tensor(xs)`, `Vocab(xs)` and loops."""
        old, new = base.type.elem, t or item.type
        if isinstance(new, ListType) and new.elem is None and isinstance(old, ListType):
            new = old  # `xs.append([])` to a list of lists
        if old is not None and old != new and not isinstance(old, AnyType):
            return self.error(item.loc, f"this list holds {old} values; appending {article(new)}", expected=str(old),
                              hint="a list holds values of one type; convert with `int(...)` or `float(...)`, or start another list")
        return self._appended(base, item, e, new)

    def _extend(self, f: A.Attribute, e: A.Call) -> ir.Expr:
        """`xs.extend(ys)`: the items of a list of numbers or strings appended one by one (Python's `extend`)."""
        base = self.expr(f.value)
        if not isinstance(base.type, ListType):
            for a in e.args:
                self.expr(a)
            return self.error(f.loc, f"`.extend` is for lists, not {article(base.type)}", expected="a list made with `name = []`",
                              hint="start an empty list with `name = []`, then extend it")
        if len(e.args) != 1 or e.kwargs:
            return self.error(e.loc, "`extend` takes one list", expected="name.extend(items)", hint="pass the list to add")
        items = self.expr(e.args[0])
        t = extended_type(self, base, items)
        if t is None:
            return ir.Const(ANY, e.loc, None)
        if isinstance(base, ir.Var):
            sym = self.scope.lookup(base.name)
            if sym is not None:
                sym.type = t
        return ir.Op(NONE, e.loc, "list_extend", {"xs": base, "x": items})

    def _call_user(self, fdef: ir.FuncDef, e: A.Call, lowered: list[ir.Expr] | None = None) -> ir.Expr:
        """A call of a chapter function; `lowered`: its positional arguments already lowered (a call through a
        function value, `f(x)` with `f` bound to this function), and no keyword arguments."""
        params = fdef.params
        names = [p.name for p in params]
        sig = f"{fdef.name}({', '.join(names)})"
        args = [self.expr(a) for a in e.args] if lowered is None else lowered
        by_kw: dict[str, ir.Expr] = {}
        for kw in e.kwargs if lowered is None else []:
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
                    self.error(a.loc, f"`{fdef.name}` expects {p.name}: {p.type}, got {article(a.type.dtype.value)} tensor",
                               expected=f"{article(p.type.dtype.value)} tensor",
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
        result = substitute(fdef.result, bindings)
        passes_functions = any(isinstance(a.type, FuncType) for a in args)
        untyped = any(isinstance(p.type, AnyType) and not isinstance(a.type, AnyType) for p, a in zip(fdef.params, args))
        if any(isinstance(p.type, AnyType) and isinstance(a.type, AnyType) for p, a in zip(fdef.params, args)):
            self.untyped_bodies[fdef.name] = (None, [], fdef)  # called with values of unknown type: the generic body
        if passes_functions or untyped:
            # check (and type) the body with these functions; an untyped def called through a function value gets
            # its result type from the arguments it is given there
            # an untyped def called directly: its body checked with these arguments, the call typed by what it returns
            result = self.specialise(fdef, args, e, result, keep=passes_functions)
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
        if isinstance(x, ir.ParamRef):
            return self._param_grad(y, x, e)
        if not isinstance(x, ir.Var):
            return self.error(x.loc, "`grad` differentiates with respect to a variable", expected="a variable name",
                              hint="assign the tensor to a name first")
        if isinstance(x.type, TensorType) and not x.type.dtype.is_float:
            return self.error(x.loc, f"cannot differentiate with respect to `{x.name}`, {article(x.type.dtype.value)} tensor",
                              expected="a float tensor",
                              hint=f"make it a float tensor, e.g. `{x.name} = {x.name}.astype(float32)`")
        if isinstance(x.type, ScalarType):
            return self.error(x.loc, f"`{x.name}` is a Python {x.type}, not a tensor", expected="a float tensor",
                              hint=f"create it as a tensor, e.g. `{x.name} = tensor(1.0)`")
        if not isinstance(x.type, (TensorType, AnyType)):
            return self.error(x.loc, f"`{x.name}` is {article(x.type)}, not a tensor", expected="a float tensor",
                              hint="differentiate with respect to a tensor variable")
        return self._check_value(y, x.name, e) or ir.Grad(x.type, e.loc, y, x)

    def _param_grad(self, y: ir.Expr, p: ir.ParamRef, e: A.Call) -> ir.Expr:
        """`grad(loss, net.out.weight)`: a parameter's gradient (the loss's link to the model is checked by the
        autodiff pass, which fills the statements to replay)."""
        if p.weight in ("running_mean", "running_var"):
            return self.error(p.loc, f"`{p.weight}` is a running statistic, not a trained parameter", expected="a weight or "
                              "a bias (net.out.weight)", hint="batch normalisation updates its statistics while training, "
                              "without gradients")
        return self._check_value(y, p.root.name, e) or ir.ParamGrad(p.type, e.loc, y, p)

    def _check_value(self, y: ir.Expr, x: str, e: A.Call) -> ir.Expr | None:
        """An error for a `y` that is not one float number to differentiate (computed from `x`), else None."""
        if isinstance(y.type, SeqType) and y.type.kind == "tuple":
            return self.error(y.loc, f"`grad` needs one number, got a tuple ({y.type})", expected="a rank-0 float tensor",
                              hint="differentiate one item of the tuple (`t[0]`); for `grad(f)`, write a function that "
                                   "returns that item, e.g. `return f(x)[0]`")
        if isinstance(y.type, TensorType) and y.type.rank != 0:
            return self.error(y.loc, f"`grad` needs a scalar, but this value has shape {fmt_shape(y.type.shape)}",
                              expected="a rank-0 tensor (one number)", hint="reduce it first, e.g. `grad(y.sum(), x)`")
        if isinstance(y.type, TensorType) and not y.type.dtype.is_float:
            return self.error(y.loc, f"`grad` of {article(y.type.dtype.value)} value", expected="a float scalar",
                              hint="compute the value from float tensors")
        if isinstance(y.type, ScalarType):
            return self.error(y.loc, "`grad` of a Python number", expected="a tensor computed from the variable",
                              hint=f"compute the value with tensor ops on `{x}`")
        if not isinstance(y.type, (TensorType, AnyType)):
            return self.error(y.loc, f"`grad` of {article(y.type)}", expected="a rank-0 float tensor",
                              hint=f"compute one number from `{x}`, e.g. `(...).sum()`")
        return None

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
        if isinstance(x, ir.ParamRef):
            return self.error(x.loc, "`grad(f)` differentiates with respect to a tensor argument, not a parameter",
                              expected="grad(loss, net.out.weight) with loss computed from net(X)",
                              hint="compute the loss from the model's call, then take `grad(loss, net.out.weight)`")
        return self._check_grad(y, x, e)


def _is_number(t: object) -> bool:
    """An `int` or `float` Python value (`bool` is not a number here)."""
    return isinstance(t, ScalarType) and t.kind in ("int", "float")
