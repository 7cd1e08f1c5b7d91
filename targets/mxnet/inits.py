"""Gluon initialisers, for `param(init=...)` and for the `init=` / `bias_init=` of built-in layers.

`init.Normal(sigma)` has mean zero and `init.Uniform(scale)` draws from [-scale, scale): a normal
with another mean, or a uniform range that is not symmetric around zero, becomes a small
`init.Initializer` subclass defined in the notebook (snippets/ShiftedNormal.py, UniformRange.py),
the way gluon's documentation writes custom initialisers.
"""
from d2lc.emit.inits import LayerInits, RecurrentInits

INITIALIZERS = {  # DSL initialiser -> (gluon initializer, its arguments); see d2lc.emit.inits
    "normal": ("init.Normal", ("std",)),
    "uniform": ("init.Uniform", ("high",)),
    "constant": ("init.Constant", ("value",)),
    "zeros": ("init.Zero", ()),
    "ones": ("init.One", ()),
    "xavier": ("init.Xavier", ()),  # uniform, factor "avg", magnitude 3: Glorot's uniform
}
UNCENTRED = {  # the rows for what gluon's initialisers cannot spell
    "normal": ("ShiftedNormal", ("mean", "std")),
    "uniform": ("UniformRange", ("low", "high")),
}
SNIPPET_CLASSES = frozenset(path for path, _ in UNCENTRED.values())
LAYER_INITS = LayerInits({  # gluon layers start their biases at zero
    "Linear": {"weight": "weight_initializer", "bias": "bias_initializer"},
    "Conv2d": {"weight": "weight_initializer", "bias": "bias_initializer"},
    "Embedding": {"weight": "weight_initializer"},
})
# recurrent layers: U(-1/sqrt(h), 1/sqrt(h)) for the i2h and h2h weights (without one, a weight takes the
# initialiser given to `initialize()`); gluon starts both biases at zero
RECURRENT_INITS = RecurrentInits(("i2h_weight_initializer", "h2h_weight_initializer"))
