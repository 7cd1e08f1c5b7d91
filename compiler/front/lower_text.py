"""Lowering of text: run-time strings and lists of them, their methods, indexing and `+`, the text built-ins
(`read_time_machine`, `re_sub`, `list`, `Vocab`), the vocabulary's members, and `tensor(list)` of indices.

Every value here is plain Python on every target (core/text.py); the checks keep strings and tensors apart, so
`exp(text)` or `text.sum()` is a compile error that says how text becomes numbers.
"""
from __future__ import annotations

import re

from d2lc.front import ast as A
from d2lc.front.lower_base import LowererBase, article
from d2lc.core import ir
from d2lc.core.diagnostics import did_you_mean
from d2lc.core.ir import static_value
from d2lc.core.text import (INTS, REQUIRED, STR_METHODS, STRS, TEXT_FUNCTIONS, VOCAB, VOCAB_ATTRIBUTES, VOCAB_METHODS,
                            is_ints, is_strs, is_token_lists)
from d2lc.core.types import ANY, BOOL, FLOAT, INT, STR, AnyType, DType, ListType, ScalarType, TensorType, Type, is_str

NOT_A_TENSOR = "a string is not a tensor: number its tokens with a `Vocab`, then `tensor(vocab[tokens])`"
KIND_TEXT = {"str": "a string", "str?": "a string", "strs": "a list of strings",
             "tokens": "a list of strings or a list of lists of strings", "int": "an int", "ints": "a list of ints"}


def _fits(t: Type, kind: str) -> bool:
    if isinstance(t, AnyType):
        return True
    if kind in ("str", "str?"):
        return is_str(t)
    if kind == "strs":
        return is_strs(t)
    if kind == "tokens":
        return is_strs(t) or is_token_lists(t)
    if kind == "int":
        return isinstance(t, ScalarType) and t.kind == "int"
    return False


def _bind(lw: LowererBase, params, e: A.Call, what: str, shown: str, args: list[ir.Expr] | None = None) -> dict | None:
    """The arguments of a text call by parameter name (None: an error was reported); each checked for its kind."""
    names = [p[0] for p in params]
    args = [lw.expr(a) for a in e.args] if args is None else args
    kwargs = {kw.name: (kw, lw.expr(kw.value)) for kw in e.kwargs}
    if len(args) > len(params):
        lw.error(args[len(params)].loc, f"`{what}` takes at most {len(params)} argument{'s' * (len(params) != 1)}, got {len(args)}",
                 expected=shown, hint="remove the extra arguments")
        return None
    bound: dict[str, ir.Expr | None] = dict(zip(names, args))
    for key, (kw, v) in kwargs.items():
        if key not in names:
            lw.error(kw.loc, f"`{what}` has no parameter `{key}`", expected=shown,
                     hint=did_you_mean(key, names) or f"its parameters are {', '.join(names) or 'none'}")
            return None
        if key in bound:
            lw.error(kw.loc, f"`{what}` got two values for `{key}`", expected=shown, hint=f"pass `{key}` once")
            return None
        bound[key] = v
    ok = True
    for name, kind, default in params:
        v = bound.get(name)
        if v is None:
            if default is REQUIRED:
                lw.error(e.loc, f"`{what}` needs a value for `{name}`", expected=shown, hint=f"pass {KIND_TEXT[kind]} as `{name}`")
                return None
            bound[name] = None
        elif not _fits(v.type, kind):
            lw.error(v.loc, f"`{what}`'s `{name}` must be {KIND_TEXT[kind]}, got {article(v.type)}", expected=KIND_TEXT[kind],
                     hint="a tensor is not text: text comes from `read_time_machine()`, string methods or a literal"
                     if isinstance(v.type, TensorType) else "cut the text into tokens first: `list(text)` (characters) or "
                     "`text.split()` (words)" if kind in ("strs", "tokens") and is_str(v.type) else f"see {shown}")
            ok = False
    return bound if ok else None


def lower_text_call(lw: LowererBase, e: A.Call, name: str) -> ir.Expr:
    """`read_time_machine()`, `re_sub(pattern, repl, text)`, `list(text)`, `Vocab(tokens, ...)`."""
    params, shown = TEXT_FUNCTIONS[name]
    if name == "list":
        args = [lw.expr(a) for a in e.args]
        if len(args) == 1 and not e.kwargs and isinstance(args[0].type, ListType):
            return ir.Op(args[0].type, e.loc, "py_list", {"x": args[0]})  # a copy of a run-time list
        bound = _bind(lw, params, e, name, shown, args)
        return ir.Op(STRS, e.loc, "py_list", {"x": bound["text"]}) if bound is not None else ir.Const(ANY, e.loc, None)
    bound = _bind(lw, params, e, name, shown)
    if bound is None:
        return ir.Const(ANY, e.loc, None)
    if name in ("read_time_machine", "read_fra_eng"):
        return ir.Op(STR, e.loc, name, bound)
    if name == "re_sub":
        pattern = static_value(bound["pattern"])
        if isinstance(pattern, str):
            try:
                re.compile(pattern)
            except re.error as exc:
                return lw.error(bound["pattern"].loc, f"`re_sub`'s pattern is not a regular expression: {exc}",
                                expected="a Python regular expression, e.g. \"[^a-z]+\"",
                                hint="escape special characters with a backslash, and close every ( and [")
        return ir.Op(STR, e.loc, "re_sub", bound)
    freq = static_value(bound["min_freq"])
    if isinstance(freq, int) and freq < 0:
        return lw.error(bound["min_freq"].loc, f"`min_freq` must be at least 0, got {freq}",
                        expected="0 (keep every token) or a positive count", hint="tokens seen fewer times become `<unk>`")
    return ir.Op(VOCAB, e.loc, "vocab_new", bound)


def lower_text_method(lw: LowererBase, base: ir.Expr, f: A.Attribute, e: A.Call) -> ir.Expr:
    """`text.lower()`, `" ".join(words)`, ..., and `vocab.to_tokens(indices)`."""
    if base.type == VOCAB:
        if f.attr not in VOCAB_METHODS:
            for a in e.args:
                lw.expr(a)
            return lw.error(f.loc, f"a vocabulary has no method `.{f.attr}`", expected="vocab.to_tokens(indices)",
                            hint=did_you_mean(f.attr, [*VOCAB_METHODS, *VOCAB_ATTRIBUTES]) or
                            "index it for indices (`vocab[tokens]`); `.to_tokens(indices)` goes back")
        args = [lw.expr(a) for a in e.args]
        if len(args) != 1 or e.kwargs:
            return lw.error(e.loc, "`to_tokens` takes one argument", expected="vocab.to_tokens(index) or vocab.to_tokens(indices)",
                            hint="pass an int or a list of ints")
        x = args[0]
        if isinstance(x.type, AnyType):
            return ir.Const(ANY, e.loc, None)
        if isinstance(x.type, ScalarType) and x.type.kind == "int":
            result: Type = STR
        elif is_ints(x.type):
            result = STRS
        else:
            return lw.error(x.loc, f"`to_tokens` takes an index or a list of indices, got {article(x.type)}",
                            expected="an int or a list of ints",
                            hint="a tensor's values become a list with `.tolist()`" if isinstance(x.type, TensorType)
                            else "indices come from `vocab[tokens]`")
        return ir.Op(result, e.loc, "text_method", {"x": base, "method": "to_tokens", "args": [x]})
    if isinstance(base.type, ListType):
        for a in e.args:
            lw.expr(a)
        return lw.error(f.loc, f"a list of strings has no method `.{f.attr}`", expected="a string method on one string",
                        hint="join the list first (`\" \".join(words)`), or loop over it")
    spec = STR_METHODS.get(f.attr)
    if spec is None:
        for a in e.args:
            lw.expr(a)
        return lw.error(f.loc, f"a string has no method `.{f.attr}`", expected="one of: " + ", ".join(f".{m}()" for m in STR_METHODS),
                        hint=did_you_mean(f.attr, STR_METHODS) or NOT_A_TENSOR)
    shown = f"text.{f.attr}({', '.join(p[0] for p in spec.params)})"
    bound = _bind(lw, spec.params, e, f".{f.attr}", shown)
    if bound is None:
        return ir.Const(ANY, e.loc, None)
    args = [bound[p[0]] for p in spec.params if bound[p[0]] is not None]
    if f.attr == "split" and isinstance(static_value(bound["sep"]), str) and not static_value(bound["sep"]):
        return lw.error(bound["sep"].loc, "`.split` with an empty separator", expected="a non-empty separator, or none",
                        hint="`text.split()` cuts at white space; `list(text)` gives the characters")
    return ir.Op(spec.result, e.loc, "text_method", {"x": base, "method": f.attr, "args": args})


def lower_vocab_attribute(lw: LowererBase, base: ir.Expr, e: A.Attribute) -> ir.Expr:
    """`vocab.unk`, `vocab.token_freqs`, `vocab.idx_to_token`."""
    if e.attr in VOCAB_ATTRIBUTES:
        return ir.Op(VOCAB_ATTRIBUTES[e.attr], e.loc, "text_attribute", {"x": base, "attr": e.attr})
    if e.attr in VOCAB_METHODS:
        return lw.error(e.loc, f"`.{e.attr}` is a method; call it", expected=f".{e.attr}(indices)", hint="add the argument in parentheses")
    return lw.error(e.loc, f"a vocabulary has no attribute `.{e.attr}`",
                    expected="one of: " + ", ".join(f".{a}" for a in VOCAB_ATTRIBUTES),
                    hint=did_you_mean(e.attr, [*VOCAB_ATTRIBUTES, *VOCAB_METHODS]) or "`len(vocab)` is its size")


def lower_text_subscript(lw: LowererBase, base: ir.Expr, e: A.Subscript) -> ir.Expr:
    """`text[:60]`, `words[0]`, `words[-3:]`, `vocab["the"]` and `vocab[tokens]`."""
    if len(e.index) != 1:
        for node in e.index:
            if not isinstance(node, A.Slice):
                lw.expr(node)
        return lw.error(e.loc, f"{article(base.type)} takes a single index", expected="one int or one slice, e.g. words[:10]",
                        hint="strings and lists have one axis")
    node = e.index[0]
    if base.type == VOCAB:
        if isinstance(node, A.Slice):
            return lw.error(e.loc, "a vocabulary is indexed by tokens, not sliced", expected="vocab[token] or vocab[tokens]",
                            hint="slice its list of tokens instead: `vocab.idx_to_token[:10]`")
        key = lw.expr(node)
        if isinstance(key.type, AnyType):
            return ir.Const(ANY, e.loc, None)
        if is_str(key.type):
            return ir.Op(INT, e.loc, "getitem", {"x": base, "index": [key]})
        if is_strs(key.type):
            return ir.Op(INTS, e.loc, "getitem", {"x": base, "index": [key]})
        return lw.error(key.loc, f"a vocabulary is indexed by a token or a list of tokens, got {article(key.type)}",
                        expected="a string or a list of strings",
                        hint="`vocab.to_tokens(indices)` turns indices back into tokens" if is_ints(key.type)
                        or isinstance(key.type, (TensorType, ScalarType)) else "tokens come from `text.split()` or `list(text)`")
    if isinstance(node, A.Slice):
        parts = [lw.expr(p) if p is not None else None for p in (node.start, node.stop, node.step)]
        for p in parts:
            if p is not None and not (isinstance(p.type, ScalarType) and p.type.kind == "int") and not isinstance(p.type, AnyType):
                return lw.error(p.loc, f"slice bounds must be ints, got {p.type}", expected="an int", hint="convert with `int(...)`")
        if parts[2] is not None and static_value(parts[2]) == 0:
            return lw.error(parts[2].loc, "a slice step of 0", expected="a non-zero step", hint="a step of 1 takes every item")
        return ir.Op(base.type, e.loc, "getitem", {"x": base, "index": [ir.IndexSlice(*parts)]})
    i = lw.expr(node)
    if not (isinstance(i.type, ScalarType) and i.type.kind == "int") and not isinstance(i.type, AnyType):
        return lw.error(i.loc, f"indices of {article(base.type)} must be ints, got {article(i.type)}", expected="an int",
                        hint="a vocabulary maps tokens to indices: `vocab[token]`" if is_str(i.type) else "convert with `int(...)`")
    elem = STR if is_str(base.type) else base.type.elem  # type: ignore[union-attr]
    if elem is None:
        return lw.error(base.loc, "indexing a list that holds nothing yet", expected="a list with items",
                        hint="append to it first")
    return ir.Op(elem, e.loc, "getitem", {"x": base, "index": [i]})


def lower_str_binop(lw: LowererBase, op: str, x: ir.Expr, y: ir.Expr, loc) -> ir.Expr:
    """`a + b` of two strings joins them; any other operator, or a string with a number or tensor, is an error."""
    other = y if is_str(x.type) else x
    if op != "add":
        return lw.error(loc, "strings take only `+` (joining them)", expected="a + b of two strings",
                        hint=NOT_A_TENSOR if isinstance(other.type, TensorType) else "use string methods such as `.replace`")
    if not (is_str(other.type) or isinstance(other.type, AnyType)):
        return lw.error(other.loc, f"`+` joins a string only with a string, got {article(other.type)}", expected="a string",
                        hint=NOT_A_TENSOR if isinstance(other.type, TensorType) else "write the number in the string literal")
    return ir.Op(STR, loc, "py_concat", {"x": x, "y": y})


def lower_tensor_of_list(lw: LowererBase, data: ir.Expr, dtype: ir.Expr | None, loc) -> ir.Expr:
    """`tensor(indices)` of a run-time list of numbers: a 1-D tensor as long as the list (int64, float32 or bool);
    of a list of such lists (the indices of each sentence, all of one length), a 2-D tensor."""
    elem = data.type.elem  # type: ignore[union-attr]
    rank = 1
    if isinstance(elem, ListType):
        rank, elem = 2, elem.elem
    if elem is None or isinstance(elem, AnyType):
        return ir.Const(ANY, loc, None) if isinstance(elem, AnyType) else lw.error(
            data.loc, "`tensor` of a list that holds nothing yet", expected="a list of numbers", hint="append numbers to it first")
    if not (isinstance(elem, ScalarType) and elem.kind in ("int", "float", "bool")):
        return lw.error(data.loc, f"`tensor` needs numbers, got a list of {elem}", expected="a list of ints or floats",
                        hint=NOT_A_TENSOR if is_str(elem) else "stack a list of tensors with `stack(xs)`")
    kind = {INT: DType.int64, FLOAT: DType.float32, BOOL: DType.bool}[elem]
    if dtype is not None:
        value = static_value(dtype)
        if not isinstance(value, DType):
            return lw.error(dtype.loc, "`tensor` needs a dtype here", expected="float32, float64, int32, int64 or bool",
                            hint="write the dtype name without quotes, e.g. `dtype=float32`")
        kind = value
    return ir.Op(TensorType(kind, (None,) * rank), loc, "tensor", {"data": data, "dtype": dtype})


def lower_tolist(lw: LowererBase, base: ir.Expr, e: A.Call) -> ir.Expr:
    """`x.tolist()` of a 1-D tensor: its values as a run-time list of Python numbers (indices for `to_tokens`)."""
    if e.args or e.kwargs:
        for a in e.args:
            lw.expr(a)
        return lw.error(e.loc, "`.tolist()` takes no arguments", expected="x.tolist()", hint="index the tensor first")
    t = base.type
    if isinstance(t, AnyType):
        return ir.Const(ANY, e.loc, None)
    if t.rank != 1:  # type: ignore[union-attr]
        return lw.error(base.loc, f"`.tolist()` needs a 1-D tensor, got {t}", expected="a tensor [n]",
                        hint="flatten it first with `.reshape(-1)`, or index one row")
    elem = INT if t.dtype.is_int else FLOAT if t.dtype.is_float else BOOL  # type: ignore[union-attr]
    return ir.Op(ListType(elem), e.loc, "tolist", {"x": base})


__all__ = ["lower_tolist", "lower_text_call", "lower_text_method", "lower_vocab_attribute", "lower_text_subscript", "lower_str_binop",
           "lower_tensor_of_list", "NOT_A_TENSOR"]
