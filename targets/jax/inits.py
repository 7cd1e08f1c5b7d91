"""flax initialisers, for `param(init=...)` and for the `init=` / `bias_init=` of built-in layers.

`nn.initializers.normal(stddev)` has mean zero and `nn.initializers.uniform(scale)` draws from
[0, scale); other means and ranges are small initialiser functions (key, shape, dtype) over
`jax.random`, which flax calls as it calls its own.
"""
from d2lc.emit.inits import LayerInits, RecurrentInits

I = "nn.initializers."
INITIALIZERS = {  # DSL initialiser -> (flax initializer, its arguments); see d2lc.emit.inits
    "normal": (I + "normal", ("std",)),  # mean 0 (see SHIFTED)
    "constant": (I + "constant", ("value",)),
    "zeros": (I + "zeros", None),
    "ones": (I + "ones", None),
    "xavier": (I + "xavier_uniform", ()),
}
SHIFTED = {  # initialisers flax has no factory for: lambda key, shape, dtype=jnp.float32: <body>
    "normal": "{mean} + {std} * jax.random.normal({key}, {shape}, {dtype})",
    "uniform": "jax.random.uniform({key}, {shape}, {dtype}, minval={low}, maxval={high})",
}
LAYER_INITS = LayerInits({  # flax layers start their biases at zero
    "Linear": {"weight": "kernel_init", "bias": "bias_init"},
    "Conv2d": {"weight": "kernel_init", "bias": "bias_init"},
    "Embedding": {"weight": "embedding_init"},
})
# recurrent cells: U(-1/sqrt(h), 1/sqrt(h)) for the input and recurrent kernels (flax's own are LeCun's normal and
# orthogonal); flax starts the biases at zero
RECURRENT_INITS = RecurrentInits(("kernel_init", "recurrent_kernel_init"))
