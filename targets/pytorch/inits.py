"""PyTorch initialisers of built-in layers: `torch.nn.init` functions filling a layer's parameter in place.

(`param(shape, init=...)` creates its tensor directly, e.g. `torch.normal(0.0, 0.01, size=...)`; see
models.py.) PyTorch's layers do not start their biases at zero, so the zero bias that `init=` implies
is spelt out. Lazy layers (`nn.LazyLinear`) reset their parameters when first called, after any
initialiser, so a layer with a stated initialiser is built with its input size (`nn.Linear(in, out)`);
one with the default initialisation whose input size is not known is wrapped in `lazy_xavier(...)`
(snippets/lazy_xavier.py), which initialises it on its first call. A recurrent layer's weights start
from PyTorch's own U(-1/sqrt(h), 1/sqrt(h)), the language's default; its biases are set to zero.
"""
from d2lc.emit.inits import LayerInits

INPLACE = {  # DSL initialiser -> (torch.nn.init function, its arguments after the tensor); see d2lc.emit.inits
    "normal": ("nn.init.normal_", ("mean=mean", "std=std")),
    "uniform": ("nn.init.uniform_", ("a=low", "b=high")),
    "constant": ("nn.init.constant_", ("value",)),
    "zeros": ("nn.init.zeros_", ()),
    "ones": ("nn.init.ones_", ()),
    "xavier": ("nn.init.xavier_uniform_", ()),
}
LAYER_INITS = LayerInits({  # the parameters' attribute names
    "Linear": {"weight": "weight", "bias": "bias"},
    "Conv2d": {"weight": "weight", "bias": "bias"},
    "Embedding": {"weight": "weight"},
}, zero_bias_default=False)
EAGER = {  # a layer with a stated initialiser: (eager constructor, the input axis whose size it takes first)
    "Linear": ("nn.Linear", -1),
    "Conv2d": ("nn.Conv2d", 1),
}
