"""Python lists of plain values as the text chapters use them: `a + b` and `[pad] * n`, `xs.extend(ys)`, lists of
lists (`src.append(tokens)`), and membership (`char in ",.!?"`, `token not in reserved`) (docs/dsl.md, "Text").

These are plain Python on every target, like the rest of text; tensors are kept out (a list of tensors is stacked
with `stack`, and a tensor's membership is `(x == v).any()`).
"""
from __future__ import annotations

from d2lc.core import ir
from d2lc.core.types import ANY, BOOL, AnyType, ListType, ScalarType, SeqType, TensorType, Type, elements, is_str
from d2lc.front.lower_base import LowererBase, article

PLAIN = ("int", "float", "bool", "str")


def is_plain(t: Type | None) -> bool:
    """A Python number or string, or a list of them (one level of nesting: a sentence's tokens)."""
    if isinstance(t, ScalarType):
        return t.kind in PLAIN
    return isinstance(t, ListType) and isinstance(t.elem, ScalarType) and t.elem.kind in PLAIN


def list_elem(t: Type) -> Type | None:
    """The element type of a run-time list or of a list literal of plain values; None if `t` is no such list."""
    if isinstance(t, AnyType):
        return ANY
    if isinstance(t, ListType):
        return t.elem if t.elem is not None else ANY
    if isinstance(t, SeqType) and t.kind == "list":
        if not t.items:
            return ANY
        elem = elements(t)
        return elem if elem is not None and (is_plain(elem) or isinstance(elem, AnyType)) else None
    return None


def as_list(t: Type) -> Type:
    """A list literal of plain values typed as the run-time list it becomes (`["<eos>"]`: a list of str)."""
    elem = list_elem(t)
    return ListType(None if isinstance(elem, AnyType) else elem) if elem is not None else t


def is_pylist_operand(t: Type) -> bool:
    """A run-time list, or a list literal whose items are plain values (so `+` and `*` are Python's)."""
    return isinstance(t, ListType) or (list_elem(t) is not None and isinstance(t, SeqType) and bool(t.items))


def _same(a: Type | None, b: Type | None) -> bool:
    return a is None or b is None or isinstance(a, AnyType) or isinstance(b, AnyType) or a == b


def lower_list_binop(lw: LowererBase, op: str, x: ir.Expr, y: ir.Expr, loc) -> ir.Expr:
    """`xs + ys` joins two lists of one element type; `xs * n` (or `n * xs`) repeats a list n times."""
    if op == "add":
        a, b = list_elem(x.type), list_elem(y.type)
        if a is None or b is None:
            other = y if a is not None else x
            return lw.error(other.loc, f"`+` joins a list only with a list, got {article(other.type)}",
                            expected="xs + ys of two lists", hint="append one value with `xs.append(v)`, or wrap it: "
                            "`xs + [v]`" if not isinstance(other.type, TensorType) else "a list is not a tensor: make one "
                            "with `tensor(xs)`, or stack a list of tensors with `stack(xs)`")
        if not _same(a, b):
            return lw.error(loc, f"`+` joins lists of one kind, got a list of {a} and a list of {b}",
                            expected="two lists of the same kind of values", hint="convert the items first, or keep two lists")
        elem = a if not isinstance(a, AnyType) else b
        return ir.Op(ListType(None if isinstance(elem, AnyType) else elem), loc, "py_concat", {"x": x, "y": y})
    if op == "mul":
        lst, n = (x, y) if list_elem(x.type) is not None else (y, x)
        if not (isinstance(n.type, ScalarType) and n.type.kind == "int") and not isinstance(n.type, AnyType):
            return lw.error(n.loc, f"a list is repeated a whole number of times, got {article(n.type)}",
                            expected="xs * n with an int n", hint="convert with `int(...)`; a list is not a tensor: "
                            "make one with `tensor(xs)` to scale its values")
        return ir.Op(as_list(lst.type), loc, "py_repeat", {"x": lst, "y": n} if lst is x else {"x": n, "y": lst})
    return lw.error(loc, "lists take only `+` (joining them) and `*` (repeating one)", expected="xs + ys, xs * n",
                    hint="a list is not a tensor: make one with `tensor(xs)` for arithmetic")


def lower_membership(lw: LowererBase, op: str, x: ir.Expr, y: ir.Expr, loc) -> ir.Expr:
    """`x in y` / `x not in y`: a substring of a string, or an item of a list or tuple of plain values."""
    word = "in" if op == "in" else "not in"
    if isinstance(x.type, AnyType) or isinstance(y.type, AnyType):
        return ir.Const(ANY, loc, None)
    if isinstance(x.type, TensorType) or isinstance(y.type, TensorType):
        return lw.error(loc, f"`{word}` is for strings and lists, not tensors", expected="char in \",.!?\", token in tokens",
                        hint="for a tensor, compare and reduce: `(x == v).any()`")
    if is_str(y.type):
        if not is_str(x.type):
            return lw.error(x.loc, f"`{word}` a string looks for a string in it, got {article(x.type)}",
                            expected="a string on both sides", hint="e.g. `char in \",.!?\"`")
    else:
        elem = list_elem(y.type) if not (isinstance(y.type, SeqType) and y.type.kind == "tuple") else elements(y.type)
        if elem is None or not (is_plain(elem) or isinstance(elem, AnyType)):
            return lw.error(y.loc, f"`{word}` looks in a string, a list or a tuple of values, got {article(y.type)}",
                            expected="a string, a list or a tuple", hint="e.g. `token in reserved` with a list of strings")
        if not _same(x.type, elem) and not (isinstance(x.type, ScalarType) and isinstance(elem, ScalarType)
                                            and {x.type.kind, elem.kind} <= {"int", "float"}):
            return lw.error(x.loc, f"looking for {article(x.type)} among values of type {elem}",
                            expected=f"{article(elem)}", hint="the value and the items must be of one kind")
    return ir.Op(BOOL, loc, "py_in" if op == "in" else "py_not_in", {"x": x, "y": y})


def extended_type(lw: LowererBase, base: ir.Expr, items: ir.Expr) -> Type | None:
    """The list type after `base.extend(items)` (None: an error was reported)."""
    elem = list_elem(items.type)
    if elem is None:
        lw.error(items.loc, f"`.extend` takes a list, got {article(items.type)}", expected="xs.extend(ys) with a list ys",
                 hint="append a single value with `xs.append(v)`")
        return None
    old = base.type.elem  # type: ignore[union-attr]
    if not _same(old, elem):
        lw.error(items.loc, f"this list holds {old} values; extending it with a list of {elem}", expected=f"a list of {old}",
                 hint="a list holds values of one type; start another list")
        return None
    if isinstance(elem, AnyType) or elem is None:
        return base.type
    if not is_plain(elem):
        lw.error(items.loc, f"`.extend` takes a list of numbers or strings, got a list of {elem}",
                 expected="a list of numbers or strings", hint="append tensors one at a time with `xs.append(x)`")
        return None
    return ListType(elem)


__all__ = ["is_plain", "list_elem", "as_list", "is_pylist_operand", "lower_list_binop", "lower_membership", "extended_type"]
