"""Ops every Python target spells the same way (`print`, `and`, `float(x)`, `xs.append`, indexing, figures), and
the plain-Python spelling of elementwise ops on Python numbers. Looked up before a backend's table."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import libcst as cst

from d2lc.core import ir
from d2lc.core.types import TensorType
from d2lc.emit.fmt import attr, binop, compare, unary
from d2lc.emit.files import FILE_OPS
from d2lc.emit.plots import FIGURES
from d2lc.emit.reads import READ_OPS
from d2lc.emit.text import TEXT_OPS
from d2lc.emit.tables import TABLE_OPS

if TYPE_CHECKING:
    from d2lc.emit.rules import EmitterLike


def _print(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    return cst.Call(cst.Name("print"), [cst.Arg(em.expr(v)) for v in node.args["values"]])


def _py_bool(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    values = [em.expr(v) for v in node.args["values"]]
    op = cst.And() if node.op == "py_and" else cst.Or()
    out = values[0]
    for v in values[1:]:
        out = cst.BooleanOperation(out, op, v)
    return out


Generic = Callable[[Any, ir.Op], cst.BaseExpression]  # (emitter, op) -> code

GENERIC: dict[str, Generic] = {
    "print": _print,
    "py_and": _py_bool,
    "py_or": _py_bool,
    "py_not": lambda em, n: unary(cst.Not(), em.expr(n.args["x"])),
    "py_float": lambda em, n: cst.Call(cst.Name("float"), [cst.Arg(em.expr(n.args["x"]))]),
    "py_int": lambda em, n: cst.Call(cst.Name("int"), [cst.Arg(em.expr(n.args["x"]))]),
    "getitem": lambda em, n: em.getitem(n),  # the emitter's: the backend's rule for tensors, channels-last indices
    "py_len": lambda em, n: cst.Call(cst.Name("len"), [cst.Arg(em.expr(n.args["x"]))]),
    "py_enumerate": lambda em, n: cst.Call(cst.Name("enumerate"), [cst.Arg(em.expr(n.args["xs"]))]),
    "py_zip": lambda em, n: cst.Call(cst.Name("zip"), [cst.Arg(em.expr(x)) for x in n.args["xs"]]),
    "py_eq": lambda em, n: compare(em.expr(n.args["x"]), [cst.ComparisonTarget(cst.Equal(), em.expr(n.args["y"]))]),
    "py_in": lambda em, n: compare(em.expr(n.args["x"]), [cst.ComparisonTarget(cst.In(), em.expr(n.args["y"]))]),
    "py_not_in": lambda em, n: compare(em.expr(n.args["x"]), [cst.ComparisonTarget(cst.NotIn(), em.expr(n.args["y"]))]),
    "py_repeat": lambda em, n: binop(em.expr(n.args["x"]), cst.Multiply(), em.expr(n.args["y"])),
    "py_ne": lambda em, n: compare(em.expr(n.args["x"]), [cst.ComparisonTarget(cst.NotEqual(), em.expr(n.args["y"]))]),
    "py_call": lambda em, n: cst.Call(em.expr(n.args["f"]), [cst.Arg(em.expr(a)) for a in n.args["args"]]),
    "list_append": lambda em, n: cst.Call(attr(em.expr(n.args["xs"]), cst.Name("append")), [cst.Arg(em.expr(n.args["x"]))]),
    "list_extend": lambda em, n: cst.Call(attr(em.expr(n.args["xs"]), cst.Name("extend")), [cst.Arg(em.expr(n.args["x"]))]),
    **FILE_OPS,  # save, load: each backend's FileSpelling
    **FIGURES,  # plot, heatmap, show_images: matplotlib, with each target's tensors as NumPy arrays
    **TEXT_OPS,  # strings, lists of them and the vocabulary: plain Python
    **TABLE_OPS,  # tables: pandas, the same on every target
    **READ_OPS,  # a minibatch read by hand, a loop over a part, time(), text_labels: plain Python
}

_PY_BIN = {"add": cst.Add, "sub": cst.Subtract, "mul": cst.Multiply, "truediv": cst.Divide, "floordiv": cst.FloorDivide,
           "mod": cst.Modulo, "pow": cst.Power}
_PY_CMP = {"eq": cst.Equal, "ne": cst.NotEqual, "lt": cst.LessThan, "le": cst.LessThanEqual, "gt": cst.GreaterThan,
           "ge": cst.GreaterThanEqual}
PYTHON_SCALAR_RULES: dict[str, Generic] = {
    **{k: (lambda op: lambda em, n: binop(em.expr(n.args["x"]), op(), em.expr(n.args["y"])))(v) for k, v in _PY_BIN.items()},
    **{k: (lambda op: lambda em, n: compare(em.expr(n.args["x"]), [cst.ComparisonTarget(op(), em.expr(n.args["y"]))]))(v)
       for k, v in _PY_CMP.items()},
    "neg": lambda em, n: unary(cst.Minus(), em.expr(n.args["x"])),
    "maximum": lambda em, n: _py_extreme(em, n, "max"),
    "minimum": lambda em, n: _py_extreme(em, n, "min"),
}


def _py_extreme(em: "EmitterLike", node: ir.Op, name: str) -> cst.BaseExpression:
    """`max(a, b, c)` for nested `maximum`s of Python numbers (`max(a, b, c)` in the source lowers to them)."""
    args: list[ir.Expr] = []
    while isinstance(node.args["x"], ir.Op) and node.args["x"].op == node.op and not isinstance(node.args["x"].type, TensorType):
        args.insert(0, node.args["y"])
        node = node.args["x"]
    args[:0] = [node.args["x"], node.args["y"]]
    return cst.Call(cst.Name(name), [cst.Arg(em.expr(a)) for a in args])
