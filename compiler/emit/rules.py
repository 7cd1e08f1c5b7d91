"""Emission rules: the values in a backend's op table. Each turns one IR op into a libcst expression.

    OPS = {
        "exp": Fn("torch.exp"),
        "sum": Method("sum", dim="axis", keepdim="keepdims"),
        "add": Infix("+"),
        "where": Tmpl("torch.where({cond}, {x}, {y})"),
    }

Keyword maps read `target_kw="op_param"`; a keyword is left out when the op's argument is absent
or equals the op's default, so `x.sum()` stays `x.sum()`.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Protocol

import libcst as cst
from libcst.helpers import parse_template_expression

from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.types import TensorType
from d2lc.core.ops import REQUIRED, SPECS
from d2lc.emit.fmt import attr, binop, compare, parenthesize, unary

if TYPE_CHECKING:
    from d2lc.core.types import DType


class EmitterLike(Protocol):
    """What a rule asks of the emitter (`d2lc.emit.base.Emitter` is one); rules never import the emitter."""

    def expr(self, e: "ir.Expr") -> cst.BaseExpression: ...
    def arg(self, node: "ir.Op", name: str) -> cst.BaseExpression: ...
    def operand(self, node: "ir.Op", name: str) -> cst.BaseExpression: ...
    def value(self, v: Any, param: str = "") -> cst.BaseExpression: ...
    def literal(self, v: Any) -> cst.BaseExpression: ...
    def dtype_expr(self, dtype: "DType") -> cst.BaseExpression: ...
    def effective(self, dtype: "DType") -> "DType": ...
    def natural_dtype(self, node: "ir.Op") -> "DType | None": ...
    def unsupported(self, node: "ir.Expr", why: str = "") -> None: ...


class Rule:
    def emit(self, em: "EmitterLike", node: "ir.Op") -> cst.BaseExpression:
        raise NotImplementedError


def _present(node: "ir.Op", param: str) -> bool:
    value = node.args.get(param)
    if value is None:
        return False
    spec = SPECS.get(node.op)
    default = next((p.default for p in spec.params if p.name == param), REQUIRED) if spec else REQUIRED
    if default is REQUIRED:
        return True
    return static_value(value) != default or static_value(value) is None and not hasattr(value, "value")


def _kwargs(em: "EmitterLike", node: "ir.Op", mapping: dict[str, str]) -> list[cst.Arg]:
    out = []
    for target_kw, param in mapping.items():
        forced = param.startswith("!")
        param = param.lstrip("!")
        if forced and node.args.get(param) is None:
            default = next(p.default for p in SPECS[node.op].params if p.name == param)
            out.append(cst.Arg(em.literal(default), keyword=cst.Name(target_kw),
                               equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))))
        elif forced or _present(node, param):
            out.append(cst.Arg(em.arg(node, param), keyword=cst.Name(target_kw),
                               equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))))
    return out


def _positional(em: "EmitterLike", node: "ir.Op", params: tuple[str, ...]) -> list[cst.Arg]:
    out = []
    for p in params:
        if p.startswith("*"):
            values = node.args.get(p[1:])
            if isinstance(values, ir.Seq):
                out.extend(cst.Arg(em.value(v, p[1:])) for v in values.items)
            elif isinstance(values, list):
                out.extend(cst.Arg(em.value(v, p[1:])) for v in values)
            elif values is not None:
                out.append(cst.Arg(em.value(values, p[1:]), star="*"))
        elif node.args.get(p) is not None:
            out.append(cst.Arg(em.arg(node, p)))
    return out


def dotted(path: str) -> cst.BaseExpression:
    parts = path.split(".")
    node: cst.BaseExpression = cst.Name(parts[0])
    for part in parts[1:]:
        node = attr(node, cst.Name(part))
    return node


@dataclass(frozen=True)
class Fn(Rule):
    """A call `path(args..., kw=...)`; `args` names op params passed positionally ("*p" splats a list)."""

    path: str
    args: tuple[str, ...] = ("x",)
    kw: dict[str, str] = field(default_factory=dict)

    def __init__(self, path: str, *args: str, **kw: str):
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "args", args or ("x",))
        object.__setattr__(self, "kw", kw)

    def emit(self, em, node):
        return cst.Call(dotted(self.path), _positional(em, node, self.args) + _kwargs(em, node, self.kw))


@dataclass(frozen=True)
class Method(Rule):
    """A method call on the op's first tensor: `x.name(args..., kw=...)`."""

    name: str
    args: tuple[str, ...] = ()
    kw: dict[str, str] = field(default_factory=dict)

    def __init__(self, name: str, *args: str, **kw: str):
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "kw", kw)

    def emit(self, em, node):
        receiver = em.operand(node, "x")
        return cst.Call(attr(receiver, cst.Name(self.name)),
                        _positional(em, node, self.args) + _kwargs(em, node, self.kw))


@dataclass(frozen=True)
class Attr(Rule):
    """An attribute of the op's first tensor: `x.T`, `x.shape`."""

    name: str

    def emit(self, em, node):
        return attr(em.operand(node, "x"), cst.Name(self.name))


BINARY = {"+": cst.Add, "-": cst.Subtract, "*": cst.Multiply, "/": cst.Divide, "//": cst.FloorDivide, "%": cst.Modulo,
          "**": cst.Power, "@": cst.MatrixMultiply, "&": cst.BitAnd, "|": cst.BitOr, "^": cst.BitXor}
COMPARE = {"==": cst.Equal, "!=": cst.NotEqual, "<": cst.LessThan, "<=": cst.LessThanEqual, ">": cst.GreaterThan,
           ">=": cst.GreaterThanEqual}


@dataclass(frozen=True)
class Infix(Rule):
    """A binary operator `x OP y` (libcst adds the parentheses precedence needs)."""

    op: str

    def emit(self, em, node):
        left, right = em.operand(node, "x"), em.operand(node, "y")
        if self.op in COMPARE:
            return compare(left, [cst.ComparisonTarget(COMPARE[self.op](), right)])
        return binop(left, BINARY[self.op](), right)


@dataclass(frozen=True)
class Prefix(Rule):
    op: str

    def emit(self, em, node):
        ops = {"-": cst.Minus, "~": cst.BitInvert, "not": cst.Not}
        return unary(ops[self.op](), em.operand(node, "x"))


@dataclass(frozen=True)
class Tmpl(Rule):
    """A fixed expression with `{param}` holes, e.g. "torch.where({cond}, {x}, {y})"; every hole must be given."""

    template: str

    def emit(self, em, node):
        holes = {name for _, name, _, _ in string.Formatter().parse(self.template) if name}
        values = {}
        for h in holes:
            if h.startswith("dtype_of_"):
                values[h] = em.dtype_expr(node.args[h[len("dtype_of_"):]].type.dtype)
            elif h == "dtype":
                values[h] = em.dtype_expr(node.type.dtype)
            else:
                values[h] = em.arg(node, h)
        return parenthesize(parse_template_expression(self.template, **values))


@dataclass(frozen=True)
class Custom(Rule):
    """Anything else: a function (emitter, op) -> libcst expression, kept next to the table."""

    fn: Callable[["EmitterLike", "ir.Op"], cst.BaseExpression]

    def emit(self, em, node):
        return self.fn(em, node)


@dataclass(frozen=True)
class Unsupported(Rule):
    """Declares that a target cannot express an op; compiling it is an error naming op and target."""

    why: str = ""

    def emit(self, em, node):
        em.unsupported(node, self.why)


def with_dtype(rule: Rule, kw: str = "dtype") -> "DTyped":
    return DTyped(rule, kw)


@dataclass(frozen=True)
class DTyped(Rule):
    """Adds `dtype=` only where the target's natural result dtype differs from the IR's."""

    rule: Rule
    kw: str = "dtype"

    def emit(self, em, node):
        expr = self.rule.emit(em, node)
        if not isinstance(node.type, TensorType):  # an untyped lambda body (never called): as written
            return expr
        if em.natural_dtype(node) != em.effective(node.type.dtype) and isinstance(expr, cst.Call):
            expr = expr.with_changes(args=[*expr.args, cst.Arg(em.dtype_expr(node.type.dtype), keyword=cst.Name(self.kw),
                                                              equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))])
        return expr


def call(path: str, *args: cst.BaseExpression, **kwargs: Any) -> cst.Call:
    """Build `path(args, kw=...)` from ready libcst nodes (for Custom rules)."""
    return cst.Call(dotted(path), [cst.Arg(a) for a in args] + [
        cst.Arg(v, keyword=cst.Name(k), equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
        for k, v in kwargs.items() if v is not None])
