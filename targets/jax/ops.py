"""JAX op table: where JAX spells an op differently from the shared base table (d2lc.emit.base_ops)."""

from pathlib import Path

import libcst as cst

from d2lc.emit.fmt import attr

from d2lc.core.types import DType
from d2lc.emit.base_ops import ELEMENTWISE, base_ops
from d2lc.emit.rules import Attr, Custom, Fn, Method, Tmpl, call, with_dtype
from d2lc.emit.snippet_rules import snippet_call
from d2lc.emit.select_ops import ExplicitAxis, FlatOrderFree, axis_of

SNIPPETS = Path(__file__).parent / "snippets"


def _transpose(em, node):
    if node.args.get("axes") is None:
        return Attr("T").emit(em, node)
    return Method("transpose", "axes").emit(em, node)


def _topk(field: int):
    """jax.lax.top_k works on the last axis: move the op's axis there and back."""
    def emit(em, node):
        rank, axis = node.args["x"].type.rank, axis_of(em, node)
        x = em.expr(node.args["x"])
        if axis != rank - 1:
            x = call("jnp.moveaxis", x, cst.Integer(str(axis)), _minus_one())
        out = cst.Subscript(call("jax.lax.top_k", x, em.arg(node, "k")),
                            [cst.SubscriptElement(cst.Index(cst.Integer(str(field))))])
        if axis != rank - 1:
            out = call("jnp.moveaxis", out, _minus_one(), cst.Integer(str(axis)))
        if field == 1 and getattr(em, "x64", False):  # top_k's indices are int32 in 64-bit mode too
            out = em.cast(out, node, DType.int64)
        return out
    return Custom(emit)


def _categorical(em, node):
    """jax.random.categorical draws `shape` samples whose trailing axes are the batch: draw (n, rows), transpose."""
    probs = node.args["probs"]
    key, logits, n = em.split_key(node), call("jnp.log", em.expr(probs)), em.arg(node, "num_samples")
    if probs.type.rank == 1:
        return call("jax.random.categorical", key, logits, shape=cst.Tuple([cst.Element(n)]))
    rows = probs.type.shape[0]
    rows = cst.Integer(str(rows)) if isinstance(rows, int) else \
        cst.Subscript(attr(em.expr(probs), cst.Name("shape")), [cst.SubscriptElement(cst.Index(cst.Integer("0")))])
    draw = call("jax.random.categorical", key, logits, shape=cst.Tuple([cst.Element(n), cst.Element(rows)]))
    return attr(draw, cst.Name("T"))


def _minus_one():
    return cst.UnaryOperation(cst.Minus(), cst.Integer("1"))


def _one_hot(em, node):
    out = Fn("jax.nn.one_hot", "x", "num_classes").emit(em, node)
    if getattr(em, "x64", False):  # in 64-bit mode one_hot would give float64
        out = out.with_changes(args=[*out.args, cst.Arg(em.dtype_expr(DType.float32), keyword=cst.Name("dtype"),
                               equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))])
    return out


OPS = {
    **base_ops("jnp"),
    # creation
    "normal": Custom(lambda em, node: em.random_draw(node)),  # split the notebook's PRNG key: emitter.py
    "uniform": Custom(lambda em, node: em.random_draw(node)),
    "randint": Custom(lambda em, node: call("jax.random.randint", em.split_key(node), em.arg(node, "shape"),
                                            em.arg(node, "low"), em.arg(node, "high"))),
    "bernoulli": Custom(lambda em, node: em.cast(call("jax.random.bernoulli", em.split_key(node), em.arg(node, "p"),
                                                      em.arg(node, "shape")), node, DType.float32)),
    "randperm": Custom(lambda em, node: call("jax.random.permutation", em.split_key(node), em.arg(node, "n"))),
    "categorical": Custom(_categorical),
    "seed": Custom(lambda em, node: em.error(node.loc, "`seed(...)` must stand on its own line")),
    # elementwise
    "sigmoid": Fn("jax.nn.sigmoid"), "relu": Fn("jax.nn.relu"),
    "gelu": Tmpl("jax.nn.gelu({x}, approximate=False)"),  # jax.nn.gelu defaults to the tanh approximation
    # reductions
    "sum": with_dtype(Method("sum", axis="axis", keepdims="keepdims")),
    "softmax": ExplicitAxis(Fn("jax.nn.softmax", "x", axis="axis")),
    # sorting and selection
    "topk_values": _topk(0),
    "topk_indices": _topk(1),
    "one_hot": FlatOrderFree(Custom(_one_hot), "always"),
    # shape
    "transpose": Custom(_transpose),
    # misc
    "detach": Fn("jax.lax.stop_gradient"),
    # losses
    "cross_entropy": Tmpl("optax.softmax_cross_entropy_with_integer_labels({logits}, {labels}).mean()"),
    "squared_loss": Tmpl("optax.squared_error({y_hat}, {y}).mean()"),
    # devices
    "num_gpus": Tmpl('len([d for d in jax.devices() if d.platform == "gpu"])'),
    "cpu": Tmpl('jax.devices("cpu")[0]'),
    "try_gpu": snippet_call(SNIPPETS, "try_gpu", "i"),
    "try_all_gpus": snippet_call(SNIPPETS, "try_all_gpus"),
    "device": Attr("device"),
    "to_device": Fn("jax.device_put", "x", "device"),
}

# jnp promotes int64 + python float to float64 under x64, and int / int to float64: cast first.
CAST_OPERANDS = ELEMENTWISE | {"sum", "mean", "var", "norm"}
