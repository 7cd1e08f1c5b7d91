"""Keras initialisers, for `param(init=...)` and for the `init=` / `bias_init=` of built-in layers."""
from d2lc.emit.inits import LayerInits, RecurrentInits

I = "tf.keras.initializers."
INITIALIZERS = {  # DSL initialiser -> (Keras initializer, its arguments); see d2lc.emit.inits
    "normal": (I + "RandomNormal", ("mean=mean", "stddev=std")),
    "uniform": (I + "RandomUniform", ("minval=low", "maxval=high")),
    "constant": (I + "Constant", ("value",)),
    "zeros": (I + "Zeros", ()),
    "ones": (I + "Ones", ()),
    "xavier": (I + "GlorotUniform", ()),
}
LAYER_INITS = LayerInits({  # Keras layers start their biases at zero, Dense and Conv2D kernels at Glorot's uniform
    "Linear": {"weight": "kernel_initializer", "bias": "bias_initializer"},
    "Conv2d": {"weight": "kernel_initializer", "bias": "bias_initializer"},
    "Embedding": {"weight": "embeddings_initializer"},
}, weight_defaults={"Linear": "xavier", "Conv2d": "xavier"})
# recurrent layers: U(-1/sqrt(h), 1/sqrt(h)) for both kernels (Keras' own are Glorot's and orthogonal); Keras starts
# the biases at zero but adds 1 to the LSTM's forget gate, which `unit_forget_bias=False` switches off
RECURRENT_INITS = RecurrentInits(("kernel_initializer", "recurrent_initializer"), fixed={"LSTM": {"unit_forget_bias": "False"}})
