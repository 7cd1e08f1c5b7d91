"""MXNet op table: where MXNet spells an op differently from the shared base table (d2lc.emit.base_ops)."""
import libcst as cst

from d2lc.emit.fmt import attr, binop

from d2lc.core import ir
from d2lc.emit.dtypes import creation_defaults
from d2lc.emit.base_ops import ELEMENTWISE, base_ops
from d2lc.emit.rules import Attr, Custom, Fn, Method, Tmpl, call
from d2lc.core.ops import SPECS
from d2lc.core.types import DType, ScalarType, TensorType


def _transpose(em, node):
    if node.args.get("axes") is None:
        return Attr("T").emit(em, node)
    return Fn("np.transpose", "x", "axes").emit(em, node)


def _var(em, node):
    """The mean squared deviation written out, as MXNet's own d2l code does: np.var has a zero gradient in MXNet 1.9."""
    if any(isinstance(e, ir.Op) and SPECS[e.op].category == "random" for e in ir.walk_exprs(node.args["x"])):
        return Method("var", axis="axis", keepdims="keepdims").emit(em, node)  # the input must be drawn once
    x = em.operand(node, "x")
    axis = node.args.get("axis")
    mean = Method("mean", axis="axis").emit(em, node)
    keep = cst.Arg(cst.Name("True"), keyword=cst.Name("keepdims"),
                   equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))
    centred = binop(x, cst.Subtract(), mean.with_changes(args=[*mean.args, keep]) if axis is not None else mean)
    squared = binop(centred, cst.Power(), cst.Integer("2"))
    outer = Method("mean", axis="axis", keepdims="keepdims").emit(em, node)
    return outer.with_changes(func=attr(squared, cst.Name("mean")))


def _arg_reduce(method: str):
    def emit(em, node):
        out = Method(method, axis="axis").emit(em, node)
        k = node.args.get("keepdims")
        if isinstance(k, ir.Const) and k.value is True:  # mxnet's argmax has no keepdims
            if node.args.get("axis") is None:
                return call("np.reshape", out, cst.Tuple([cst.Element(cst.Integer("1"))] * node.args["x"].type.rank))
            return call("np.expand_dims", out, em.arg(node, "axis"))
        return out
    return Custom(emit)


def _floordiv(em, node):
    # mxnet.np has no `//` for arrays: floor the true quotient, then return to the int dtype
    quotient = binop(em.operand(node, "x"), cst.Divide(), em.operand(node, "y"))
    out = call("np.floor", quotient)
    if not node.type.dtype.is_float:
        out = cst.Call(attr(out, cst.Name("astype")), [cst.Arg(em.dtype_expr(node.type.dtype))])
    return out


def _where(em, node):
    """np.where; a Python number becomes an array first (MXNet 1.9 gets the gradient wrong otherwise)."""
    x, y = node.args["x"], node.args["y"]
    def branch(name, other):
        v = node.args[name]
        if isinstance(v.type, ScalarType) and isinstance(other.type, TensorType) and other.type.shape == node.type.shape:
            return call("np.full_like", em.operand(node, name.replace(name, other_name[name])), em.operand(node, name))
        return em.operand(node, name)
    other_name = {"x": "y", "y": "x"}
    return call("np.where", em.arg(node, "cond"), branch("x", y), branch("y", x))


def _normal(em, node):
    return call("np.random.normal", em.value(node.args.get("mean") or 0.0) if node.args.get("mean") is not None else cst.Integer("0"),
                em.value(node.args["std"]) if node.args.get("std") is not None else cst.Integer("1"),
                size=em.value(node.args["shape"]))


def _uniform(em, node):
    low, high = node.args.get("low"), node.args.get("high")
    return call("np.random.uniform", em.value(low) if low is not None else cst.Integer("0"),
                em.value(high) if high is not None else cst.Integer("1"), size=em.value(node.args["shape"]))


OPS = {
    **base_ops("np"),
    # creation
    "normal": Custom(_normal),
    "uniform": Custom(_uniform),
    "seed": Fn("npx.random.seed", "value"),
    # elementwise
    "sigmoid": Fn("npx.sigmoid"), "relu": Fn("npx.relu"),
    "floordiv": Custom(_floordiv),
    "where": Custom(_where),
    # reductions
    "var": Custom(_var),
    "argmax": _arg_reduce("argmax"),
    "argmin": _arg_reduce("argmin"),
    "softmax": Fn("npx.softmax", "x", axis="axis"),
    # shape
    "transpose": Custom(_transpose),
    # losses (gluon's are per example: average them)
    "cross_entropy": Tmpl("gluon.loss.SoftmaxCrossEntropyLoss()({logits}, {labels}).mean()"),
    "squared_loss": Tmpl("np.square({y_hat} - {y}).mean()"),
}

# mxnet.np keeps int dtypes through float ops (np.log of int64 is int64; int64 - 1.5 is int64): cast first.
CAST_OPERANDS = ELEMENTWISE | {"sum", "mean", "var", "norm", "prod"}

# mxnet.np makes float32 from every literal and range unless told otherwise.
natural_dtype = creation_defaults(int_dtype=DType.float32, always=DType.float32)
