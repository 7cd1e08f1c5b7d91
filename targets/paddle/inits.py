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
# Paddle layers start their biases at zero; nn.Linear's weight at Glorot's uniform (the default of
# create_parameter, fans [in, out]), the language's default, so it is not spelt out; nn.Conv2D's weight starts
# at Kaiming's normal and nn.Embedding's at Glorot's, so theirs are
LAYER_INITS = LayerInits({
    "Linear": {"weight": "weight_attr", "bias": "bias_attr"},
    "Conv2d": {"weight": "weight_attr", "bias": "bias_attr"},
    "Embedding": {"weight": "weight_attr"},
}, wrap=lambda initializer: call("paddle.ParamAttr", initializer=initializer), weight_defaults={"Linear": "xavier"})
# recurrent layers: Paddle's own weights are already U(-1/sqrt(h), 1/sqrt(h)) (nothing to write), its biases too,
# so both are set to zero
RECURRENT_INITS = RecurrentInits(biases=("bias_ih_attr", "bias_hh_attr"))
