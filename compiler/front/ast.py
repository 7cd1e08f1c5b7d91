"""The DSL's abstract syntax tree: small dataclasses with source locations, built from Lark's parse tree."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lark import Token, Tree, v_args
from lark.visitors import Transformer_NonRecursive

from d2lc.core.diagnostics import Loc


@dataclass
class Node:
    loc: Loc


# ---- expressions ---------------------------------------------------------------------------
@dataclass
class Name(Node):
    id: str


@dataclass
class Literal(Node):
    value: Any  # int | float | bool | str | None


@dataclass
class TupleLit(Node):
    items: list[Node]


@dataclass
class ListLit(Node):
    items: list[Node]


@dataclass
class Lambda(Node):
    params: list[str]
    body: Node
    keyword: str = "lambda"  # the word before the parameters (anything else is a syntax error)


@dataclass
class Starred(Node):
    """`*layers` as a call argument (only `Sequential(*layers)` takes one)."""
    value: Node


@dataclass
class BinOp(Node):
    op: str
    left: Node
    right: Node


@dataclass
class UnaryOp(Node):
    op: str
    operand: Node


@dataclass
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass
class BoolOp(Node):
    op: str  # "and" | "or"
    values: list[Node]


@dataclass
class Keyword:
    name: str
    value: Node
    loc: Loc


@dataclass
class Call(Node):
    func: Node
    args: list[Node]
    kwargs: list[Keyword]


@dataclass
class Attribute(Node):
    value: Node
    attr: str


@dataclass
class Slice(Node):
    start: Node | None
    stop: Node | None
    step: Node | None


@dataclass
class EllipsisLit(Node):
    pass


@dataclass
class Subscript(Node):
    value: Node
    index: list[Node]


# ---- statements ----------------------------------------------------------------------------
@dataclass
class Assign(Node):
    target: Node
    value: Node


@dataclass
class AugAssign(Node):
    target: Node
    op: str
    value: Node


@dataclass
class ExprStmt(Node):
    value: Node


@dataclass
class Return(Node):
    value: Node | None


@dataclass
class Pass(Node):
    pass


@dataclass
class Jump(Node):
    """`break` or `continue` (kind)."""
    kind: str


@dataclass
class TypeAnn(Node):
    name: str
    dims: list[int | str | TypeAnn] | None  # None: no brackets (a scalar type like `int`); TypeAnn: `tuple[f32[n], int]`


@dataclass
class Param(Node):
    name: str
    ann: TypeAnn | None
    default: Node | None


@dataclass
class FuncDef(Node):
    name: str
    params: list[Param]
    returns: TypeAnn | None
    body: list[Node]
    decorators: list[tuple[str, Loc]] = field(default_factory=list)  # marker lines (`@save`), name and place


@dataclass
class ModelDef(Node):
    name: str
    params: list[Param]
    body: list[Node]
    decorators: list[tuple[str, Loc]] = field(default_factory=list)


@dataclass
class For(Node):
    targets: list[str]
    iter: Node
    body: list[Node]


@dataclass
class While(Node):
    test: Node
    body: list[Node]


@dataclass
class If(Node):
    test: Node
    body: list[Node]
    orelse: list[Node]


# ---- parse tree -> AST -----------------------------------------------------------------------
BIN_OPS = {"+": "add", "-": "sub", "*": "mul", "/": "truediv", "//": "floordiv", "%": "mod", "@": "matmul",
           "**": "pow", "&": "and", "|": "or", "^": "xor"}
CMP_OPS = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
UNARY_OPS = {"-": "neg", "+": "pos", "~": "invert"}


class ToAst(Transformer_NonRecursive):
    """Turns a Lark tree into AST nodes; positions come from Lark's propagated metadata.

    Non-recursive, so a deeply nested expression reaches the depth check (`d2lc.front.depth`) instead of
    overflowing the stack here."""

    def __init__(self, file: str, first_line: int):
        super().__init__()
        self.file = file
        self.offset = first_line - 1

    def _loc(self, meta_or_tok: Any) -> Loc:
        if isinstance(meta_or_tok, Token):
            return Loc(self.file, meta_or_tok.line + self.offset, meta_or_tok.column,
                       meta_or_tok.column + len(str(meta_or_tok)))
        if getattr(meta_or_tok, "empty", True):
            return Loc(self.file, 1 + self.offset, 1)
        end = meta_or_tok.end_column if meta_or_tok.end_line == meta_or_tok.line else None
        return Loc(self.file, meta_or_tok.line + self.offset, meta_or_tok.column, end)

    # statements
    def start(self, items):  # noqa: D102
        return [i for i in items if isinstance(i, Node)]

    @v_args(meta=True)
    def assign(self, meta, items):
        return Assign(self._loc(meta), items[0], items[1])

    @v_args(meta=True)
    def aug_assign(self, meta, items):
        return AugAssign(self._loc(meta), items[0], BIN_OPS[str(items[1])[0]], items[2])

    @v_args(meta=True)
    def expr_stmt(self, meta, items):
        return ExprStmt(self._loc(meta), items[0])

    @v_args(meta=True)
    def return_stmt(self, meta, items):
        return Return(self._loc(meta), items[0] if items else None)

    @v_args(meta=True)
    def pass_stmt(self, meta, items):
        return Pass(self._loc(meta))
    break_stmt = v_args(meta=True)(lambda self, meta, items: Jump(self._loc(meta), "break"))
    continue_stmt = v_args(meta=True)(lambda self, meta, items: Jump(self._loc(meta), "continue"))

    def suite(self, items):
        return [i for i in items if isinstance(i, Node)]

    @v_args(meta=True)
    def decorated(self, meta, items):
        name, node = items
        node.decorators.insert(0, (str(name), self._loc(name)))
        return node

    @v_args(meta=True)
    def funcdef(self, meta, items):
        name, params, returns, body = items
        return FuncDef(self._loc(name), str(name), params or [], returns, body)

    @v_args(meta=True)
    def model_def(self, meta, items):
        name, params, body = items
        return ModelDef(self._loc(name), str(name), params or [], body)

    def params(self, items):
        return [p for p in items if p is not None]

    @v_args(meta=True)
    def param(self, meta, items):
        name, ann, default = items
        return Param(self._loc(name), str(name), ann, default)

    @v_args(meta=True)
    def type_ann(self, meta, items):
        name, *dims = items
        dims = [(d.name if isinstance(d, TypeAnn) and d.dims is None else d) for d in dims if d is not None]
        return TypeAnn(self._loc(name), str(name), dims if (dims or self._had_brackets(meta, name)) else None)

    def _had_brackets(self, meta, name) -> bool:
        return not getattr(meta, "empty", True) and meta.end_column - meta.column > len(str(name))

    def dim_int(self, items):
        return int(items[0])

    @v_args(meta=True)
    def for_stmt(self, meta, items):
        targets, iter_, body = items
        return For(self._loc(meta), targets, iter_, body)

    @v_args(meta=True)
    def while_stmt(self, meta, items):
        test, body = items
        return While(self._loc(meta), test, body)

    def target_names(self, items):
        return [str(t) for t in items]

    @v_args(meta=True)
    def if_stmt(self, meta, items):
        test, body, *rest = items
        else_ = rest[-1] if rest and (rest[-1] is None or isinstance(rest[-1], tuple) and rest[-1][0] == "else") else None
        elifs = [r for r in rest if isinstance(r, tuple) and r[0] == "elif"]
        orelse: list[Node] = else_[1] if else_ else []
        for _, e_test, e_body, e_loc in reversed(elifs):
            orelse = [If(e_loc, e_test, e_body, orelse)]
        return If(self._loc(meta), test, body, orelse)

    @v_args(meta=True)
    def elif_clause(self, meta, items):
        return ("elif", items[0], items[1], self._loc(meta))

    def else_clause(self, items):
        return ("else", items[0])

    # expressions
    def _fold(self, items, make):
        node = items[0]
        i = 1
        while i < len(items):
            op, right = items[i], items[i + 1]
            node = make(node, op, right)
            i += 2
        return node

    def _binop(self, left, op, right):
        tok_loc = self._loc(op) if isinstance(op, Token) else left.loc
        return BinOp(Loc(tok_loc.file, tok_loc.line, tok_loc.col, tok_loc.end_col), BIN_OPS[str(op)], left, right)

    def arith(self, items):
        return self._fold(items, self._binop)

    def term(self, items):
        return self._fold(items, self._binop)

    def _sym_chain(self, op: str, items):
        node = items[0]
        for right in items[1:]:
            node = BinOp(node.loc, BIN_OPS[op], node, right)
        return node

    def bitor(self, items):
        return self._sym_chain("|", items)

    def bitxor(self, items):
        return self._sym_chain("^", items)

    def bitand(self, items):
        return self._sym_chain("&", items)

    def power(self, items):
        return BinOp(items[0].loc, "pow", items[0], items[1])

    def comparison(self, items):
        left, op, right = items
        return Compare(self._loc(op), CMP_OPS[str(op)], left, right)

    def or_test(self, items):
        return BoolOp(items[0].loc, "or", items)

    def and_test(self, items):
        return BoolOp(items[0].loc, "and", items)

    in_op = v_args(meta=True)(lambda self, meta, items: Compare(self._loc(meta), "in", *items))
    not_in_op = v_args(meta=True)(lambda self, meta, items: Compare(self._loc(meta), "not_in", *items))

    @v_args(meta=True)
    def not_op(self, meta, items):
        return UnaryOp(self._loc(meta), "not", items[0])

    def unary(self, items):
        op, operand = items
        return UnaryOp(self._loc(op), UNARY_OPS[str(op)], operand)

    @v_args(meta=True)
    def call(self, meta, items):
        func, args = items
        pos, kws = [], []
        for a in args or []:
            if isinstance(a, Keyword):
                kws.append(a)
            else:
                pos.append(a)
        loc = func.loc if not isinstance(func, Attribute) else func.loc
        return Call(loc, func, pos, kws)

    def arguments(self, items):
        return [i for i in items if i is not None]

    @v_args(meta=True)
    def argument(self, meta, items):
        value, default = items
        if default is None:
            return value
        if not isinstance(value, Name):
            return Keyword("<invalid>", default, value.loc)
        return Keyword(value.id, default, value.loc)

    @v_args(meta=True)
    def star_arg(self, meta, items):
        return Starred(self._loc(meta), items[0])

    @v_args(meta=True)
    def getitem(self, meta, items):
        value, index = items
        return Subscript(self._loc(meta), value, index)

    def subscripts(self, items):
        return [i for i in items if i is not None]

    @v_args(meta=True)
    def slice(self, meta, items):
        start, stop, step = (items + [None, None, None])[:3]
        return Slice(self._loc(meta), start, stop, step)

    @v_args(meta=True)
    def ellipsis(self, meta, items):
        return EllipsisLit(self._loc(meta))

    @v_args(meta=True)
    def getattr(self, meta, items):
        value, name = items
        return Attribute(self._loc(name), value, str(name))

    def var(self, items):
        return Name(self._loc(items[0]), str(items[0]))

    def int_lit(self, items):
        return Literal(self._loc(items[0]), int(items[0]))

    def float_lit(self, items):
        return Literal(self._loc(items[0]), float(items[0]))

    def str_lit(self, items):
        raw = str(items[0])
        try:
            value = decode_string(raw)
        except ValueError:  # the parser reports bad escapes before the AST is built
            value = raw[1:-1]
        return Literal(self._loc(items[0]), value)

    @v_args(meta=True)
    def true_lit(self, meta, items):
        return Literal(self._loc(meta), True)

    @v_args(meta=True)
    def false_lit(self, meta, items):
        return Literal(self._loc(meta), False)

    @v_args(meta=True)
    def none_lit(self, meta, items):
        return Literal(self._loc(meta), None)

    @v_args(meta=True)
    def lambda_expr(self, meta, items):
        keyword, params, body = items
        return Lambda(self._loc(keyword), params, body, str(keyword))

    def lambda_params(self, items):
        return [str(t) for t in items]

    @v_args(meta=True)
    def tuple_lit(self, meta, items):
        return TupleLit(self._loc(meta), [i for i in items if i is not None])

    @v_args(meta=True)
    def list_lit(self, meta, items):
        return ListLit(self._loc(meta), [i for i in items if i is not None])


def decode_string(raw: str) -> str:
    """The value of a string literal token (quotes included), with Python's escapes; ValueError if invalid."""
    import ast as py_ast
    import re
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown escapes such as "\d" stay as written, as in Python
        try:
            value = py_ast.literal_eval(raw)
        except (SyntaxError, ValueError) as exc:
            reason = getattr(exc, "msg", None) or str(exc)
            raise ValueError(re.sub(r"^.*: ", "", reason)) from None
    if not isinstance(value, str):
        raise ValueError("not a string literal")
    for ch in value:
        if 0xD800 <= ord(ch) <= 0xDFFF:
            raise ValueError(f"lone surrogate \\u{ord(ch):04x}")
    return value


def to_ast(tree: Tree, file: str, first_line: int) -> list[Node]:
    return ToAst(file, first_line).transform(tree)
