"""JAX op table: IR op -> emission rule."""

from d2lc.emit.rules import Attr, Custom, DTyped, Fn, Infix, Method, Prefix, Tmpl, with_dtype
from d2lc.core.ops import SPECS


def _transpose(em, node):
    if node.args.get("axes") is None:
        return Attr("T").emit(em, node)
    return Method("transpose", "axes").emit(em, node)


OPS = {
    # creation
    "tensor": DTyped(Fn("jnp.array", "data")),
    "arange": DTyped(Fn("jnp.arange", "start", "stop", "step")),
    "zeros": DTyped(Fn("jnp.zeros", "shape")),
    "ones": DTyped(Fn("jnp.ones", "shape")),
    "full": DTyped(Fn("jnp.full", "shape", "value")),
    "linspace": DTyped(Fn("jnp.linspace", "start", "stop", "num")),
    "eye": DTyped(Fn("jnp.eye", "n")),
    "zeros_like": Fn("jnp.zeros_like", "x", dtype="dtype"),
    "ones_like": Fn("jnp.ones_like", "x", dtype="dtype"),
    "full_like": Fn("jnp.full_like", "x", "value", dtype="dtype"),
    "normal": Custom(lambda em, node: em.random_draw(node)),  # split the notebook's PRNG key: emitter.py
    "uniform": Custom(lambda em, node: em.random_draw(node)),
    "seed": Custom(lambda em, node: em.error(node.loc, "`seed(...)` must stand on its own line")),
    # elementwise
    "exp": Fn("jnp.exp"), "log": Fn("jnp.log"), "sqrt": Fn("jnp.sqrt"), "sin": Fn("jnp.sin"), "cos": Fn("jnp.cos"),
    "tanh": Fn("jnp.tanh"), "sigmoid": Fn("jax.nn.sigmoid"), "relu": Fn("jax.nn.relu"), "abs": Fn("jnp.abs"),
    "square": Fn("jnp.square"), "sign": Fn("jnp.sign"), "floor": Fn("jnp.floor"),
    "neg": Prefix("-"), "logical_not": Prefix("~"),
    "add": Infix("+"), "sub": Infix("-"), "mul": Infix("*"), "truediv": Infix("/"), "floordiv": Infix("//"),
    "mod": Infix("%"), "pow": Infix("**"),
    "eq": Infix("=="), "ne": Infix("!="), "lt": Infix("<"), "le": Infix("<="), "gt": Infix(">"), "ge": Infix(">="),
    "logical_and": Infix("&"), "logical_or": Infix("|"), "logical_xor": Infix("^"),
    "maximum": Fn("jnp.maximum", "x", "y"), "minimum": Fn("jnp.minimum", "x", "y"),
    "where": Tmpl("jnp.where({cond}, {x}, {y})"),
    "clip": Fn("jnp.clip", "x", "min", "max"),
    # reductions
    "sum": with_dtype(Method("sum", axis="axis", keepdims="keepdims")),
    "mean": Method("mean", axis="axis", keepdims="keepdims"),
    "max": Method("max", axis="axis", keepdims="keepdims"),
    "min": Method("min", axis="axis", keepdims="keepdims"),
    "prod": Method("prod", axis="axis", keepdims="keepdims"),
    "var": Method("var", axis="axis", keepdims="keepdims"),
    "argmax": Method("argmax", axis="axis", keepdims="keepdims"),
    "argmin": Method("argmin", axis="axis", keepdims="keepdims"),
    "cumsum": Fn("jnp.cumsum", "x", axis="axis"),
    "norm": Fn("jnp.linalg.norm"),
    # linear algebra
    "softmax": Fn("jax.nn.softmax", "x", axis="axis"),
    "matmul": Infix("@"),
    "dot": Fn("jnp.dot", "x", "y"),
    # shape
    "reshape": Method("reshape", "*shape"),
    "transpose": Custom(_transpose),
    "concat": Fn("jnp.concatenate", "tensors", axis="axis"),
    "stack": Fn("jnp.stack", "tensors", axis="axis"),
    "squeeze": Fn("jnp.squeeze", "x", axis="axis"),
    "unsqueeze": Fn("jnp.expand_dims", "x", "axis"),
    # misc
    "clone": Method("copy"),
    "detach": Fn("jax.lax.stop_gradient"),
    "astype": Method("astype", "dtype"),
    "item": Method("item"),
    "shape": Attr("shape"),
    "numel": Attr("size"),
    "len": Fn("len"),
    # losses
    "cross_entropy": Tmpl("optax.softmax_cross_entropy_with_integer_labels({logits}, {labels}).mean()"),
    "squared_loss": Tmpl("optax.squared_error({y_hat}, {y}).mean()"),
}

# jnp promotes int64 + python float to float64 under x64, and int / int to float64: cast first.
CAST_OPERANDS = frozenset({n for n, s in SPECS.items() if s.category == "elementwise"} | {"sum", "mean", "var", "norm"})
