"""TensorFlow op table: where TensorFlow spells an op differently from the shared base table (d2lc.emit.base_ops)."""
from pathlib import Path

import libcst as cst

from d2lc.emit.fmt import attr, unary

from d2lc.core import ir
from d2lc.emit.dtypes import creation_defaults
from d2lc.emit.base_ops import ELEMENTWISE, base_ops
from d2lc.emit.rules import Attr, Custom, DTyped, Fn, Infix, Tmpl, call
from d2lc.emit.snippet_rules import snippet_call
from d2lc.emit.select_ops import ExplicitAxis, FlatOrderFree, axes_of, axis_of, int_list, kw, swap_last
from d2lc.core.types import DType

SNIPPETS = Path(__file__).parent / "snippets"


def _flat(em, x: cst.BaseExpression) -> cst.BaseExpression:
    return call("tf.reshape", x, cst.List([cst.Element(unary(cst.Minus(), cst.Integer("1")))]))


def _arg_reduce(fn: str):
    def emit(em, node):
        x = em.expr(node.args["x"])
        if node.args.get("axis") is None:
            out = call(fn, _flat(em, x))
            return call("tf.reshape", out, cst.List([cst.Element(cst.Integer("1"))] * node.args["x"].type.rank)) \
                if _keep(node) else out
        out = call(fn, x, axis=em.arg(node, "axis"))
        return call("tf.expand_dims", out, em.arg(node, "axis")) if _keep(node) else out
    return Custom(emit)


def _keep(node) -> bool:
    k = node.args.get("keepdims")
    return isinstance(k, ir.Const) and k.value is True


def _cumsum(em, node):
    if node.args.get("axis") is None:
        return call("tf.cumsum", _flat(em, em.expr(node.args["x"])))
    return Fn("tf.cumsum", "x", axis="axis").emit(em, node)


def _matmul(em, node):
    x, y = node.args["x"].type, node.args["y"].type
    if x.rank >= 2 and y.rank >= 2:
        return Infix("@").emit(em, node)
    if x.rank == 1 and y.rank == 1:
        return Tmpl("tf.tensordot({x}, {y}, axes=1)").emit(em, node)
    if y.rank == 1:
        return Tmpl("tf.linalg.matvec({x}, {y})").emit(em, node)
    return Tmpl("tf.linalg.matvec({y}, {x}, transpose_a=True)").emit(em, node)


def _full(em, node):
    value = em.arg(node, "value")
    if em.natural_dtype(node) != node.type.dtype:
        value = call("tf.constant", value, dtype=em.dtype_expr(node.type.dtype))
    return call("tf.fill", em.arg(node, "shape"), value)


def _linspace(em, node):
    def as_float(name):
        v = node.args[name]
        return em.literal(float(v.value)) if isinstance(v, ir.Const) and isinstance(v.value, int) else em.arg(node, name)
    out = call("tf.linspace", as_float("start"), as_float("stop"), em.arg(node, "num"))
    return call("tf.cast", out, em.dtype_expr(node.type.dtype)) if node.type.dtype != DType.float32 else out


def _transpose(em, node):
    if node.args.get("axes") is None:
        return Fn("tf.transpose").emit(em, node)
    return Fn("tf.transpose", "x", perm="axes").emit(em, node)


def _uniform(em, node):
    return Fn("tf.random.uniform", "shape", minval="low", maxval="high").emit(em, node)


def _rounding(fn: str):
    """floor/ceil: TensorFlow has no integer kernel for them, and rounding leaves an integer as it is."""
    def emit(em, node):
        if node.type.dtype.is_float:
            return Fn(fn).emit(em, node)
        return call("tf.identity", em.operand(node, "x"))
    return Custom(emit)


def _numel(em, node):
    return call("int", call("tf.size", em.expr(node.args["x"])))


def _item(em, node):
    return cst.Call(attr(cst.Call(attr(em.expr(node.args["x"]), cst.Name("numpy")), []), cst.Name("item")), [])


def _descending(em, node) -> list[cst.Arg]:
    flag = node.args.get("descending")
    if isinstance(flag, ir.Const) and flag.value is True:
        return [kw("direction", cst.SimpleString('"DESCENDING"'))]
    return []


def _sort(fn: str):
    def emit(em, node):
        out = Fn(fn, "x", axis="axis").emit(em, node)
        out = out.with_changes(args=[*out.args, *_descending(em, node)])
        return em.cast(out, node, DType.int64) if fn == "tf.argsort" else out
    return Custom(emit)


def _categorical(em, node):
    """tf.random.categorical draws from rows of log-probabilities: one distribution is a batch of one."""
    if node.args["probs"].type.rank == 2:
        return Tmpl("tf.random.categorical(tf.math.log({probs}), {num_samples})").emit(em, node)
    return Tmpl("tf.random.categorical(tf.math.log({probs})[None], {num_samples})[0]").emit(em, node)


def _along_last(em, node, x: cst.BaseExpression, inner) -> cst.BaseExpression:
    """`inner(x)` on the op's axis: moved last (tf.math.top_k and tf.gather's batch_dims work on the last) and back."""
    rank, axis = node.args["x"].type.rank, axis_of(em, node)
    if axis == rank - 1:
        return inner(x)
    return call("tf.transpose", inner(call("tf.transpose", x, perm=swap_last(rank, axis))), perm=swap_last(rank, axis))


def _topk(field: str):
    def emit(em, node):
        top = lambda x: attr(call("tf.math.top_k", x, k=em.arg(node, "k")), cst.Name(field))
        out = _along_last(em, node, em.expr(node.args["x"]), top)
        return em.cast(out, node, DType.int64) if field == "indices" else out
    return Custom(emit)


def _take_along_axis(em, node):
    rank = node.args["x"].type.rank
    batch = {"batch_dims": cst.Integer(str(rank - 1))} if rank > 1 else {}
    indices, x = em.expr(node.args["indices"]), em.expr(node.args["x"])
    if axis_of(em, node) != rank - 1:
        indices = call("tf.transpose", indices, perm=swap_last(rank, axis_of(em, node)))
    return _along_last(em, node, x, lambda v: call("tf.gather", v, indices, **batch))


OPS = {
    **base_ops("tf"),
    # creation
    "tensor": DTyped(Fn("tf.constant", "data")),
    "arange": DTyped(Fn("tf.range", "start", "stop", "step")),
    "full": Custom(_full),
    "linspace": Custom(_linspace),
    "full_like": Tmpl("tf.fill(tf.shape({x}), tf.constant({value}, dtype={dtype}))"),
    "normal": Fn("tf.random.normal", "shape", mean="mean", stddev="std"),
    "uniform": Custom(_uniform),
    "randint": Tmpl("tf.random.uniform({shape}, minval={low}, maxval={high}, dtype=tf.int64)"),
    "bernoulli": Tmpl("tf.cast(tf.random.uniform({shape}) < {p}, tf.float32)"),
    "randperm": Tmpl("tf.random.shuffle(tf.range({n}, dtype=tf.int64))"),
    "categorical": Custom(_categorical),
    "seed": Fn("tf.random.set_seed", "value"),
    # elementwise
    "log": Fn("tf.math.log"), "sigmoid": Fn("tf.sigmoid"), "relu": Fn("tf.nn.relu"),
    "gelu": Tmpl("tf.nn.gelu({x}, approximate=False)"),
    "floor": _rounding("tf.floor"), "ceil": _rounding("tf.math.ceil"),
    "logical_not": Fn("tf.logical_not"),
    "clip": Fn("tf.clip_by_value", "x", "min", "max"),
    # reductions
    "sum": Fn("tf.reduce_sum", "x", axis="axis", keepdims="keepdims"),
    "mean": Fn("tf.reduce_mean", "x", axis="axis", keepdims="keepdims"),
    "max": Fn("tf.reduce_max", "x", axis="axis", keepdims="keepdims"),
    "min": Fn("tf.reduce_min", "x", axis="axis", keepdims="keepdims"),
    "prod": Fn("tf.reduce_prod", "x", axis="axis", keepdims="keepdims"),
    "var": Fn("tf.math.reduce_variance", "x", axis="axis", keepdims="keepdims"),
    "argmax": _arg_reduce("tf.argmax"),
    "argmin": _arg_reduce("tf.argmin"),
    "cumsum": Custom(_cumsum),
    "norm": Fn("tf.norm"),
    # linear algebra
    "softmax": ExplicitAxis(Fn("tf.nn.softmax", "x", axis="axis")),
    "matmul": Custom(_matmul),
    "dot": Tmpl("tf.tensordot({x}, {y}, axes=1)"),
    # sorting and selection
    "sort": ExplicitAxis(_sort("tf.sort")),
    "argsort": ExplicitAxis(_sort("tf.argsort")),
    "topk_values": _topk("values"),
    "topk_indices": _topk("indices"),
    "take_along_axis": Custom(_take_along_axis),
    "one_hot": FlatOrderFree(Fn("tf.one_hot", "x", "num_classes"), "always"),
    # shape
    "reshape": Fn("tf.reshape", "x", "shape"),
    "flip": Custom(lambda em, node: call("tf.reverse", em.expr(node.args["x"]), axis=int_list(axes_of(em, node)))),
    "transpose": Custom(_transpose),
    "concat": Fn("tf.concat", "tensors", axis="!axis"),
    # misc
    "clone": Fn("tf.identity"),
    "detach": Fn("tf.stop_gradient"),
    "astype": Fn("tf.cast", "x", "dtype"),
    "item": Custom(_item),
    "numel": Custom(_numel),
    # losses (Keras takes the labels first)
    "cross_entropy": Tmpl("tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits({labels}, {logits}))"),
    "squared_loss": Tmpl("tf.reduce_mean(tf.square({y_hat} - {y}))"),
    # devices: a device is its name ("/GPU:0"); a copy is made under tf.device
    "num_gpus": Tmpl('len(tf.config.list_physical_devices("GPU"))'),
    "cpu": Tmpl('"/CPU:0"'),
    "try_gpu": snippet_call(SNIPPETS, "try_gpu", "i"),
    "try_all_gpus": snippet_call(SNIPPETS, "try_all_gpus"),
    "device": Attr("device"),
    "to_device": snippet_call(SNIPPETS, "to_device", "x", "device"),
}

# TensorFlow never promotes mixed dtypes, and int inputs to float ops fail: cast them first.
CAST_OPERANDS = ELEMENTWISE | {"sum", "mean", "var", "norm", "prod"}

natural_dtype = creation_defaults(int_dtype=DType.int32)
