"""Lowering of expressions other than calls and subscripts: literals, names, tuples and lists, operators, attributes."""
from __future__ import annotations

from d2lc.front import ast as A
from d2lc.front.lower_base import BUILTIN_NAMES, LowererBase, article
from d2lc.front.lower_params import is_path_base
from d2lc.front.lower_tables import is_table
from d2lc.core import ir
from d2lc.core.diagnostics import did_you_mean
from d2lc.core.ops import ATTRIBUTES, FUNCTIONS, METHODS
from d2lc.core.text import STR_METHODS, VOCAB
from d2lc.front.lower_pylists import is_pylist_operand, lower_list_binop, lower_membership
from d2lc.front.lower_text import lower_str_binop, lower_vocab_attribute
from d2lc.core.types import ANY, BOOL, DTYPE_NAMES, FLOAT, INT, NONE, STR, AnyType, ScalarType, SeqType, TensorType, is_str


class ExpressionLowering(LowererBase):
    """Dispatches each expression to its `expr_<Node>` method (calls and subscripts live in their own mixins)."""

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
                              hint=f"a built-in is called, not passed around; to pass it as a value, wrap it: `lambda x: {e.id}(x)`")
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
        if is_pylist_operand(x.type) or is_pylist_operand(y.type):  # `tokens + ["<eos>"]`, `["<pad>"] * n` (lower_pylists)
            return lower_list_binop(self, e.op, x, y, e.loc)
        if is_str(x.type) or is_str(y.type):
            return lower_str_binop(self, e.op, x, y, e.loc)
        op = {"and": "logical_and", "or": "logical_or", "xor": "logical_xor"}.get(e.op, e.op)
        if is_table(x.type) or is_table(y.type):  # `(df - df.mean()) / df.std()`: pandas arithmetic (lower_tables)
            return self.table_binop(op, x, y, e.loc)
        if op.startswith("logical_") and isinstance(x.type, ScalarType) and isinstance(y.type, ScalarType):
            return self.error(e.loc, f"`{ {'logical_and': '&', 'logical_or': '|', 'logical_xor': '^'}[op]}` is for bool tensors",
                              expected="bool tensors on both sides", hint="use `and` / `or` for Python truth values")
        return self.apply(op, {"x": x, "y": y}, e.loc)

    def expr_Compare(self, e: A.Compare) -> ir.Expr:
        x, y = self.expr(e.left), self.expr(e.right)
        if e.op in ("in", "not_in"):  # `char in ",.!?"`, `token not in reserved` (lower_pylists)
            return lower_membership(self, e.op, x, y, e.loc)
        if is_str(x.type) or is_str(y.type):  # strings compare as Python values: `mode == "sum"`
            other = y if is_str(x.type) else x
            if e.op not in ("eq", "ne"):
                return self.error(e.loc, "strings compare only with `==` and `!=`", expected="mode == \"sum\"",
                                  hint="compare two strings for equality, e.g. `if mode == \"sum\":`")
            if not (is_str(other.type) or isinstance(other.type, AnyType)):
                return self.error(other.loc, f"comparing a string with {article(other.type)}", expected="a string on both sides",
                                  hint="a string equals only a string; compare it with a string literal such as \"sum\"")
            return ir.Op(BOOL, e.loc, "py_" + e.op, {"x": x, "y": y})
        return self.apply(e.op, {"x": x, "y": y}, e.loc)

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
        if is_path_base(base):  # `net.out`, `net.net[0].weight`: sub-layers and parameters (lower_params)
            return self.path_attribute(base, e)
        if is_table(base.type):  # `df.shape` (lower_tables)
            return self.table_attribute(base, e)
        if base.type == VOCAB:  # `vocab.token_freqs`, `vocab.unk` (lower_text)
            return lower_vocab_attribute(self, base, e)
        if is_str(base.type) and e.attr in STR_METHODS:
            return self.error(e.loc, f"`.{e.attr}` is a method; call it", expected=f".{e.attr}(...)",
                              hint=f"add parentheses: `.{e.attr}()`")
        if isinstance(base.type, AnyType) and e.attr not in ATTRIBUTES and e.attr not in METHODS:
            return ir.Const(ANY, e.loc, None)  # after an error reported on the base
        if e.attr in ATTRIBUTES and not isinstance(base.type, (TensorType, AnyType)):
            return self.error(e.loc, f"{article(base.type)} has no attribute `.{e.attr}`", expected="a tensor",
                              hint=f"`.{e.attr}` is for tensors; make one with `tensor(...)` first")
        if e.attr == "device" and self.scope is not self.globals:
            return self.error(e.loc, "`.device` is read at the top level of a chapter only", expected="X.device outside functions and models",
                              hint="JAX traces functions, and a traced value has no device; name the device with cpu() or try_gpu() inside")
        if e.attr in ATTRIBUTES:
            return self.apply(ATTRIBUTES[e.attr], {"x": base}, e.loc)
        if e.attr in METHODS:
            return self.error(e.loc, f"`.{e.attr}` is a method; call it", expected=f".{e.attr}(...)",
                              hint=f"add parentheses: `.{e.attr}()`")
        return self.error(e.loc, f"tensors have no attribute `.{e.attr}`",
                          expected="one of: " + ", ".join(f".{a}" for a in ATTRIBUTES) + ", or a method call",
                          hint=did_you_mean(e.attr, list(ATTRIBUTES) + list(METHODS)) or "see docs/dsl.md for the attributes")
