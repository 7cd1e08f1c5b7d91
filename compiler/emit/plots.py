"""Figures in plain matplotlib, the same on every target: the call of a helper emitted once per notebook
(compiler/emit/snippets/plot.py, hist.py, heatmap.py, show_images.py), whose arguments are NumPy arrays. Each target
turns a tensor into one with its own idiom (`Backend.numpy_of`: `.detach().numpy()`, `.numpy()`,
`numpy.asarray(...)`, `.asnumpy()`); images leave the DSL's [n, channels, height, width] for matplotlib's
[n, height, width, channels] here, by the activation layout values have where figures are drawn."""
from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst
from libcst.helpers import parse_template_expression

from d2lc.core import ir
from d2lc.core.plots import PLOTS
from d2lc.core.types import ListType, SeqType, TensorType
from d2lc.emit.fmt import attr, parenthesize

if TYPE_CHECKING:
    from d2lc.emit.rules import EmitterLike

EQ = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))
# Where a value is stored [n, channels, height, width] (outside models, on every target), the axes that give
# matplotlib's [n, height, width, channels]
TO_MATPLOTLIB = {"NCHW": (0, 2, 3, 1), "NHWC": (0, 1, 2, 3)}


def numpy_of(em: "EmitterLike", code: cst.BaseExpression) -> cst.BaseExpression:
    """A tensor's values as a NumPy array, in the target's idiom."""
    return parenthesize(parse_template_expression(em.backend.numpy_of, x=code))


def _array(em: "EmitterLike", e: ir.Expr) -> cst.BaseExpression:
    return numpy_of(em, em.expr(e))


def _curves(em: "EmitterLike", ys: ir.Expr) -> cst.BaseExpression:
    """A list of NumPy arrays, one per curve."""
    if isinstance(ys, ir.Seq):
        return cst.List([cst.Element(_array(em, y)) for y in ys.items])
    if isinstance(ys.type, (ListType, SeqType)):  # a name holding a list: convert each tensor in it
        y = em.scratch("y")
        return cst.ListComp(numpy_of(em, cst.Name(y)), cst.CompFor(cst.Name(y), em.expr(ys)))
    return cst.List([cst.Element(_array(em, ys))])


def stored_layout(em: "EmitterLike") -> str:
    """How a rank-4 value is stored where a figure is drawn: NCHW, the DSL's layout, on every target outside
    models (layout.py permutes at model calls), whatever a channels-last target's models compute in."""
    return "NHWC" if em.channels_last() else "NCHW"


def _images(em: "EmitterLike", imgs: ir.Expr) -> cst.BaseExpression:
    code = _array(em, imgs)
    if isinstance(imgs.type, TensorType) and imgs.type.rank == 4:
        axes = TO_MATPLOTLIB[stored_layout(em)]
        if axes != (0, 1, 2, 3):
            code = cst.Call(attr(code, cst.Name("transpose")), [cst.Arg(cst.Integer(str(a))) for a in axes])
    return code


def _figure(em: "EmitterLike", node: ir.Op) -> cst.BaseExpression:
    em.shared_helper(node.op)
    first = {"plot": lambda: [_array(em, node.args["x"]), _curves(em, node.args["ys"])],
             "hist": lambda: [_curves(em, node.args["xs"])],
             "heatmap": lambda: [_array(em, node.args["M"])],
             "show_images": lambda: [_images(em, node.args["imgs"]), em.expr(node.args["num_rows"]), em.expr(node.args["num_cols"])]}
    args = [cst.Arg(a) for a in first[node.op]()]
    for p in PLOTS[node.op][len(args):]:
        v = node.args.get(p.name)
        if v is not None:
            args.append(cst.Arg(em.expr(v), keyword=cst.Name(p.name), equal=EQ))
    return cst.Call(cst.Name(node.op), args)


FIGURES = {name: _figure for name in PLOTS}
