"""MXNet op table: where MXNet spells an op differently from the shared base table (d2lc.emit.base_ops)."""
from pathlib import Path

import libcst as cst

from d2lc.emit.fmt import attr, binop, sub

from d2lc.core import ir
from d2lc.emit.dtypes import creation_defaults
from d2lc.emit.base_ops import ELEMENTWISE, base_ops
from d2lc.emit.rules import Attr, Custom, Fn, Method, Tmpl, call
from d2lc.emit.snippet_rules import snippet_call
from d2lc.emit.select_ops import axes_of, axis_of, kw
from d2lc.core.ops import SPECS
from d2lc.core.types import DType, ScalarType, TensorType

SNIPPETS = Path(__file__).parent / "snippets"


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


def _descending(node) -> bool:
    flag = node.args.get("descending")
    return isinstance(flag, ir.Const) and flag.value is True


def _sort(em, node):
    """np.sort has no descending order: flip the ascending one along the same axis."""
    out = Fn("np.sort", "x", axis="axis").emit(em, node)
    if _descending(node):
        return call("np.flip", out, axis=cst.Integer(str(axis_of(em, node))))
    return out


def _flip(em, node):
    """np.flip takes no negative axes in MXNet 1.9: write them from 0."""
    if node.args.get("axis") is None:
        return Fn("np.flip").emit(em, node)
    axes = [cst.Integer(str(a)) for a in axes_of(em, node)]
    axis = axes[0] if len(axes) == 1 and not isinstance(node.args["axis"], ir.Seq) else \
        cst.Tuple([cst.Element(a) for a in axes])
    return call("np.flip", em.expr(node.args["x"]), axis=axis)


def _take_along_axis(em, node):
    """`x[rows, indices]`: MXNet's np.take_along_axis falls back to NumPy, which records no gradient; an
    advanced index (an arange per other axis, shaped to broadcast against the indices) does."""
    x, rank, axis = em.expr(node.args["x"]), node.args["x"].type.rank, axis_of(em, node)
    items = []
    for d in range(rank):
        if d == axis:
            items.append(em.expr(node.args["indices"]))
            continue
        size = node.args["x"].type.shape[d]
        n = cst.Integer(str(size)) if isinstance(size, int) else \
            cst.Subscript(attr(x, cst.Name("shape")), [cst.SubscriptElement(cst.Index(cst.Integer(str(d))))])
        shape = [unary_minus_one() if i == d else cst.Integer("1") for i in range(rank)]
        items.append(cst.Call(attr(call("np.arange", n), cst.Name("reshape")), [cst.Arg(v) for v in shape]))
    return sub(x, [cst.SubscriptElement(cst.Index(i)) for i in items])


def _argsort(em, node):
    """np.argsort has no descending order: the ascending order of -x (the same for distinct values)."""
    if not _descending(node):
        return Fn("np.argsort", "x", axis="axis").emit(em, node)
    negated = cst.UnaryOperation(cst.Minus(), em.operand(node, "x"))
    return call("np.argsort", negated, axis=em.arg(node, "axis") if node.args.get("axis") is not None else None)


def unary_minus_one():
    return cst.UnaryOperation(cst.Minus(), cst.Integer("1"))


def _categorical(em, node):
    """np.random.choice draws from one distribution; MXNet 1.9 has no categorical draw for rows of them."""
    probs = node.args["probs"]
    if probs.type.rank != 1:
        em.unsupported(node, "MXNet draws from one distribution at a time: loop over the rows, or draw on another target")
    k = probs.type.shape[0]
    k = cst.Integer(str(k)) if isinstance(k, int) else \
        cst.Subscript(attr(em.expr(probs), cst.Name("shape")), [cst.SubscriptElement(cst.Index(cst.Integer("0")))])
    return call("np.random.choice", k, size=em.arg(node, "num_samples"), p=em.expr(probs))


def _topk(ret: str):
    def emit(em, node):
        out = Fn("npx.topk", "x", k="k", axis="axis").emit(em, node)
        extra = [kw("ret_typ", cst.SimpleString(f'"{ret}"'))]
        if ret == "indices":  # npx.topk gives float32 indices unless told
            extra.append(kw("dtype", em.dtype_expr(DType.int64)))
        return out.with_changes(args=[*out.args, *extra])
    return Custom(emit)


OPS = {
    **base_ops("np"),
    # creation
    "normal": Custom(_normal),
    "uniform": Custom(_uniform),
    "bernoulli": Fn("npx.random.bernoulli", prob="p", size="shape"),
    "randperm": Tmpl("np.argsort(np.random.uniform(size={n}))"),  # mxnet.np has no permutation
    "categorical": Custom(_categorical),
    "seed": Fn("npx.random.seed", "value"),
    # elementwise
    "sigmoid": Fn("npx.sigmoid"), "relu": Fn("npx.relu"),
    "gelu": Tmpl("npx.leaky_relu({x}, act_type='gelu')"),  # MXNet 1.9's gelu is the erf form
    "floordiv": Custom(_floordiv),
    "where": Custom(_where),
    # reductions
    "var": Custom(_var),
    "argmax": _arg_reduce("argmax"),
    "argmin": _arg_reduce("argmin"),
    "softmax": Fn("npx.softmax", "x", axis="axis"),
    # sorting and selection
    "sort": Custom(_sort),
    "argsort": Custom(_argsort),
    "topk_values": _topk("value"),
    "topk_indices": _topk("indices"),
    "take_along_axis": Custom(_take_along_axis),
    "one_hot": Fn("npx.one_hot", "x", "num_classes"),
    # shape
    "transpose": Custom(_transpose),
    "flip": Custom(_flip),
    # losses (gluon's are per example: average them)
    "cross_entropy": Tmpl("gluon.loss.SoftmaxCrossEntropyLoss()({logits}, {labels}).mean()"),
    "squared_loss": Tmpl("np.square({y_hat} - {y}).mean()"),
    # devices: a context
    "num_gpus": Tmpl("mx.context.num_gpus()"),
    "cpu": Tmpl("mx.cpu()"),
    "try_gpu": snippet_call(SNIPPETS, "try_gpu", "i"),
    "try_all_gpus": snippet_call(SNIPPETS, "try_all_gpus"),
    "device": Attr("ctx"),
    "to_device": Method("as_in_context", "device"),
}

# mxnet.np keeps int dtypes through float ops (np.log of int64 is int64; int64 - 1.5 is int64): cast first.
CAST_OPERANDS = ELEMENTWISE | {"sum", "mean", "var", "norm", "prod"}

# mxnet.np makes float32 from every literal and range unless told otherwise.
natural_dtype = creation_defaults(int_dtype=DType.float32, always=DType.float32)
