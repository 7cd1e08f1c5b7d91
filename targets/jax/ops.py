"""JAX op table: where JAX spells an op differently from the shared base table (d2lc.emit.base_ops)."""

from d2lc.emit.base_ops import ELEMENTWISE, base_ops
from d2lc.emit.rules import Attr, Custom, Fn, Method, Tmpl, with_dtype


def _transpose(em, node):
    if node.args.get("axes") is None:
        return Attr("T").emit(em, node)
    return Method("transpose", "axes").emit(em, node)


OPS = {
    **base_ops("jnp"),
    # creation
    "normal": Custom(lambda em, node: em.random_draw(node)),  # split the notebook's PRNG key: emitter.py
    "uniform": Custom(lambda em, node: em.random_draw(node)),
    "seed": Custom(lambda em, node: em.error(node.loc, "`seed(...)` must stand on its own line")),
    # elementwise
    "sigmoid": Fn("jax.nn.sigmoid"), "relu": Fn("jax.nn.relu"),
    # reductions
    "sum": with_dtype(Method("sum", axis="axis", keepdims="keepdims")),
    "softmax": Fn("jax.nn.softmax", "x", axis="axis"),
    # shape
    "transpose": Custom(_transpose),
    # misc
    "detach": Fn("jax.lax.stop_gradient"),
    # losses
    "cross_entropy": Tmpl("optax.softmax_cross_entropy_with_integer_labels({logits}, {labels}).mean()"),
    "squared_loss": Tmpl("optax.squared_error({y_hat}, {y}).mean()"),
}

# jnp promotes int64 + python float to float64 under x64, and int / int to float64: cast first.
CAST_OPERANDS = ELEMENTWISE | {"sum", "mean", "var", "norm"}
