"""Paddle initialisers, for `param(init=...)` and for the `init=` / `bias_init=` of built-in layers."""
from d2lc.emit.inits import LayerInits, RecurrentInits
from d2lc.emit.rules import call

I = "nn.initializer."
INITIALIZERS = {  # DSL initialiser -> (Paddle initializer, its arguments); see d2lc.emit.inits
    "normal": (I + "Normal", ("mean", "std")),
    "uniform": (I + "Uniform", ("low", "high")),
    "xavier": (I + "XavierUniform", ()),
    "constant": (I + "Constant", ("value",)),
    "zeros": (I + "Constant", ("0.0",)),
    "ones": (I + "Constant", ("1.0",)),
}
LAYER_INITS = LayerInits({  # Paddle layers start their biases at zero
    "Linear": {"weight": "weight_attr", "bias": "bias_attr"},
    "Conv2d": {"weight": "weight_attr", "bias": "bias_attr"},
    "Embedding": {"weight": "weight_attr"},
}, wrap=lambda initializer: call("paddle.ParamAttr", initializer=initializer))
# recurrent layers: Paddle's own weights are already U(-1/sqrt(h), 1/sqrt(h)) (nothing to write), its biases too,
# so both are set to zero
RECURRENT_INITS = RecurrentInits(biases=("bias_ih_attr", "bias_hh_attr"))
