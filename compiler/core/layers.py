"""Built-in layers, losses, optimizers and data sets: their DSL signatures and shape rules, defined once."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from d2lc.core.ops import REQUIRED, P
from d2lc.core.types import DType, Shape, ShapeError, TensorType, fmt_shape, numel


@dataclass(frozen=True)
class Weight:
    """One tensor a layer holds, as the canonical layout (PyTorch's) names and stores it.

    role: what the harness calls it (shared by layers that store it alike: bn_gamma for both BatchNorms);
    layout: how a target may store it differently from the canonical layout: "dense" ((out, in), or
        (in, out), reading a flattened [C, H, W] in the target's activation order), "kernel" (OIHW or HWIO),
        "gates" (one of a recurrent layer's four arrays, regrouped per framework), "" (the same everywhere);
    trainable: a parameter, not a running statistic; compared: checked after optimizer steps when not
        trainable; positive: drawn in [0.5, 1.5] by the harness (a scale or a variance)."""

    name: str
    role: str
    layout: str = ""
    trainable: bool = True
    compared: bool = True
    positive: bool = False


def _affine(prefix: str, positive_scale: bool = False) -> tuple[Weight, ...]:
    return (Weight("weight", f"{prefix}_gamma", positive=positive_scale), Weight("bias", f"{prefix}_beta"))


_DENSE = (Weight("weight", "dense_weight", "dense"), Weight("bias", "dense_bias"))
_CONV = (Weight("weight", "conv_kernel", "kernel"), Weight("bias", "conv_bias"))
# PyTorch's running variance is the unbiased batch variance, the other frameworks' the biased one: not compared
_BN = (*_affine("bn", positive_scale=True), Weight("running_mean", "bn_mean", trainable=False),
       Weight("running_var", "bn_var", trainable=False, compared=False, positive=True))
# one group of four per layer and direction (PyTorch names the others weight_ih_l1, weight_ih_l0_reverse, ...: same roles)
_RECURRENT = tuple(Weight(f"{name}_l0", f"rnn_{name}", "gates") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


@dataclass(frozen=True)
class LayerSpec:
    kind: str
    params: tuple[P, ...]
    shape: Callable[[dict[str, Any], TensorType], TensorType]  # static args, input type -> output type
    doc: str
    weights: tuple[Weight, ...] = ()  # the tensors it holds, in canonical order (none: a parameter-free layer)
    train_dependent: bool = False  # behaves differently in training (Dropout, BatchNorm)
    inits: tuple[str, ...] = ()  # the parameters a stated initialiser may set: "weight" (init=), "bias" (bias_init=)
    gates: str = ""  # a recurrent layer's gate blocks, in canonical order (r reset, z update, n candidate; i, f, g cell, o)

    @property
    def has_params(self) -> bool:
        return bool(self.weights)


def _same(a, x):
    return x


def _linear(a, x: TensorType) -> TensorType:
    if x.rank < 1:
        raise ShapeError("Linear needs inputs of rank 1 or more", expected="[batch, features]")
    out = a.get("out_features")
    return TensorType(x.dtype, x.shape[:-1] + (out if isinstance(out, int) else None,))


def _conv_len(n, k, s, p):
    if not all(isinstance(v, int) for v in (n, k, s, p)):
        return None
    out = (n + 2 * p - k) // s + 1
    if out <= 0:
        raise ShapeError(f"a window of {k} with padding {p} does not fit a size of {n}", expected="a kernel no larger than the padded input")
    return out


def _conv(a, x: TensorType) -> TensorType:
    if x.rank != 4:
        raise ShapeError(f"Conv2d needs inputs of shape [batch, channels, height, width], got {fmt_shape(x.shape)}",
                         expected="a rank-4 tensor (NCHW in the DSL; channels-last targets convert)")
    k, s, p = a.get("kernel"), a.get("stride") or 1, a.get("padding") or 0
    out, groups = a.get("out_channels"), a.get("groups") or 1
    if isinstance(groups, int) and groups <= 0:
        raise ShapeError(f"groups={groups}: the number of groups must be positive", expected="groups >= 1")
    for what, n in (("input", x.shape[1]), ("output", out)):
        if isinstance(groups, int) and isinstance(n, int) and n % groups:
            raise ShapeError(f"{n} {what} channels do not split into groups={groups}",
                             expected="input and output channels that are multiples of groups",
                             hint="choose groups that divide both channel counts (groups=1 is a dense convolution)")
    return TensorType(x.dtype, (x.shape[0], out if isinstance(out, int) else None, _conv_len(x.shape[2], k, s, p), _conv_len(x.shape[3], k, s, p)))


_WINDOWED = {"Conv2d", "MaxPool2d", "AvgPool2d"}
_WINDOW_ARGS = {"kernel", "stride", "padding"}


def unknown_window(kind: str, args: dict, static: dict, out):
    """`out` with unknown height and width where a window, stride or padding was given (`args`) but has no static
    value (a hyperparameter such as `stride=stride`): the shape rules read a missing value as its default."""
    unknown = {k for k, v in args.items() if v is not None and static.get(k) is None}
    if unknown & _WINDOW_ARGS and kind in _WINDOWED and isinstance(out, TensorType) and out.rank == 4:
        return TensorType(out.dtype, (*out.shape[:2], None, None))
    return out


def _pool(a, x: TensorType) -> TensorType:
    if x.rank != 4:
        raise ShapeError(f"pooling needs inputs of shape [batch, channels, height, width], got {fmt_shape(x.shape)}", expected="a rank-4 tensor")
    k = a.get("kernel")
    s = a.get("stride") or k
    p = a.get("padding") or 0
    return TensorType(x.dtype, (x.shape[0], x.shape[1], _conv_len(x.shape[2], k, s, p), _conv_len(x.shape[3], k, s, p)))


def _flatten(a, x: TensorType) -> TensorType:
    return TensorType(x.dtype, (x.shape[0], numel(x.shape[1:])) if x.rank else (1,))


def _bn(rank: int):
    def shape(a, x: TensorType) -> TensorType:
        if x.rank != rank:
            raise ShapeError(f"BatchNorm{'1d' if rank == 2 else '2d'} needs rank-{rank} inputs, got {fmt_shape(x.shape)}",
                             expected="[batch, features]" if rank == 2 else "[batch, channels, height, width]")
        return x
    return shape


def _layer_norm(a, x: TensorType) -> TensorType:
    size = a.get("size")
    if isinstance(size, int) and isinstance(x.shape[-1], int) and x.shape[-1] != size:
        raise ShapeError(f"LayerNorm({size}) applied to inputs whose last axis has size {x.shape[-1]}", expected=f"a last axis of size {size}")
    return x


def _group_norm(a, x: TensorType) -> TensorType:
    if x.rank != 4:
        raise ShapeError(f"GroupNorm needs inputs of shape [batch, channels, height, width], got {fmt_shape(x.shape)}",
                         expected="a rank-4 tensor (NCHW in the DSL; channels-last targets convert)")
    groups, channels = a.get("num_groups"), a.get("num_channels")
    if isinstance(groups, int) and isinstance(channels, int) and (groups <= 0 or channels % groups):
        raise ShapeError(f"GroupNorm({groups}, {channels}): {channels} channels do not split into {groups} groups",
                         expected="num_channels a multiple of num_groups")
    if isinstance(channels, int) and isinstance(x.shape[1], int) and x.shape[1] != channels:
        raise ShapeError(f"GroupNorm(..., {channels}) applied to inputs with {x.shape[1]} channels", expected=f"{channels} channels")
    return x


def _embedding(a, x: TensorType) -> TensorType:
    if not x.dtype.is_int:
        raise ShapeError(f"Embedding looks up integer token ids, got {x}", expected="an int tensor of token ids")
    d = a.get("dim")
    return TensorType(DType.float32, x.shape + (d if isinstance(d, int) else None,))


def _rnn(a, x: TensorType) -> TensorType:
    if x.rank != 3:
        raise ShapeError(f"recurrent layers take [batch, time, features], got {fmt_shape(x.shape)}", expected="a rank-3 tensor")
    n_in, h = a.get("num_inputs"), a.get("num_hiddens")
    if isinstance(n_in, int) and isinstance(x.shape[2], int) and n_in != x.shape[2]:
        raise ShapeError(f"the layer expects {n_in} input features, got {x.shape[2]}", expected=f"{n_in} features")
    width = 2 if a.get("bidirectional") is True else 1  # both directions' states, concatenated
    return TensorType(x.dtype, (x.shape[0], x.shape[1], h * width if isinstance(h, int) else None))


# stacked layers (each reads the states of the one below) and both directions (outputs [forward; backward] per step)
_RNN_PARAMS = (P("num_inputs", "scalar"), P("num_hiddens", "scalar"), P("num_layers", "scalar", 1), P("bidirectional", "flag", False))

LAYERS: dict[str, LayerSpec] = {s.kind: s for s in [
    LayerSpec("Linear", (P("out_features", "scalar"), P("bias", "flag", True)), _linear,
              "A fully connected layer on the last axis; its input size is inferred.", _DENSE, inits=("weight", "bias")),
    LayerSpec("Conv2d", (P("out_channels", "scalar"), P("kernel", "scalar"), P("stride", "scalar", 1), P("padding", "scalar", 0),
                         P("groups", "scalar", 1)), _conv,
              "2-D convolution over NCHW inputs (NHWC on channels-last targets); groups > 1 convolves groups of channels apart.", _CONV, inits=("weight", "bias")),
    LayerSpec("MaxPool2d", (P("kernel", "scalar"), P("stride", "scalar", None), P("padding", "scalar", 0)), _pool,
              "Max pooling (stride defaults to the window)."),
    LayerSpec("AvgPool2d", (P("kernel", "scalar"), P("stride", "scalar", None), P("padding", "scalar", 0)), _pool,
              "Average pooling (stride defaults to the window)."),
    LayerSpec("BatchNorm1d", (P("eps", "scalar", 1e-5), P("momentum", "scalar", 0.1)), _bn(2),
              "Batch normalisation over features; momentum as in PyTorch (weight of the new batch).", _BN, True),
    LayerSpec("BatchNorm2d", (P("eps", "scalar", 1e-5), P("momentum", "scalar", 0.1)), _bn(4),
              "Batch normalisation over channels.", _BN, True),
    LayerSpec("Dropout", (P("rate", "scalar"),), _same, "Zeroes a fraction `rate` of activations while training.", train_dependent=True),
    LayerSpec("Flatten", (), _flatten, "Keeps the batch axis, flattens the rest."),
    LayerSpec("ReLU", (), _same, "max(x, 0)."),
    LayerSpec("Sigmoid", (), _same, "1 / (1 + exp(-x))."),
    LayerSpec("Tanh", (), _same, "Hyperbolic tangent."),
    LayerSpec("GELU", (), _same, "x * P(N(0, 1) <= x), the exact (erf) form."),
    LayerSpec("Sequential", (), _same, "Layers applied one after another."),
    LayerSpec("LayerNorm", (P("size", "scalar"), P("eps", "scalar", 1e-5)), _layer_norm,
              "Normalises the last axis (of the given size) per example, with a learned scale and shift.", _affine("ln")),
    LayerSpec("GroupNorm", (P("num_groups", "scalar"), P("num_channels", "scalar"), P("eps", "scalar", 1e-5)), _group_norm,
              "Normalises each example over groups of channels (and all positions), with a learned scale and shift per channel.",
              _affine("gn")),
    LayerSpec("Embedding", (P("num_embeddings", "scalar"), P("dim", "scalar")), _embedding,
              "Looks up a learned vector for each integer token id.", (Weight("weight", "embedding"),), inits=("weight",)),
    LayerSpec("RNN", _RNN_PARAMS, _rnn,
              "A tanh recurrent layer over [batch, time, features]; returns every step's hidden state.", _RECURRENT, gates="h"),
    LayerSpec("GRU", _RNN_PARAMS, _rnn,
              "A gated recurrent unit layer over [batch, time, features]; returns every step's hidden state.", _RECURRENT, gates="rzn"),
    LayerSpec("LSTM", _RNN_PARAMS, _rnn,
              "A long short-term memory layer over [batch, time, features]; returns every step's hidden state.", _RECURRENT, gates="ifgo"),
]}

PARAM_ROLE = "param"  # a model's own param(...) tensor
CONSTANT_ROLE = "constant"  # a model's own param(..., trainable=False) tensor: loaded and compared, never trained
WEIGHTS: dict[str, Weight] = {w.role: w for s in LAYERS.values() for w in s.weights} | {
    PARAM_ROLE: Weight("", PARAM_ROLE), CONSTANT_ROLE: Weight("", CONSTANT_ROLE, trainable=False)}
WEIGHT_ROLES: tuple[str, ...] = tuple(WEIGHTS)  # every role once (the harness glue sends a role as its index here)
RECURRENT_KINDS = tuple(k for k, s in LAYERS.items() if s.gates)  # RNN, GRU, LSTM
WEIGHT_NAMES: dict[str, dict[str, str]] = {  # layer kind -> {tensor name in the canonical layout: role}
    k: {w.name: w.role for w in s.weights} for k, s in LAYERS.items() if s.weights}


def has_params(layer: Any) -> bool:
    """Whether a layer tree (an ir.Layer, Sequential included) holds learned parameters; other values may."""
    steps = getattr(layer, "steps", None)
    if steps is not None:  # an ir.LayerList
        return _steps_have_params(steps)
    kind = getattr(layer, "kind", None)
    if kind not in LAYERS:
        return True  # a model instance or an unknown value: assume it has parameters
    if kind == "Sequential":
        return any(has_params(c) for c in layer.children)
    return LAYERS[kind].has_params


def _steps_have_params(steps: list) -> bool:
    """A layer list's appends (`.value`) and loops (`.body`)."""
    return any(has_params(st.value) if hasattr(st, "value") else _steps_have_params(st.body) for st in steps)


INITS = {"normal": ("mean", "std"), "uniform": ("low", "high"), "zeros": (), "ones": (), "xavier": (), "constant": ("value",)}
INIT_KEYWORDS = {"init": "weight", "bias_init": "bias"}  # a built-in layer's keyword -> the parameter it initialises
# The language's initialisers where a layer states none (docs/dsl.md, "Default initialisation"): Glorot's uniform
# weights and zero biases for Linear and Conv2d, N(0, 1) embeddings. Every target spells them out, so a chapter
# without `init=` trains from the same distribution everywhere.
DEFAULT_INITS: dict[str, dict[str, tuple[str, dict[str, float]]]] = {
    "Linear": {"weight": ("xavier", {}), "bias": ("zeros", {})},
    "Conv2d": {"weight": ("xavier", {}), "bias": ("zeros", {})},
    "Embedding": {"weight": ("normal", {"mean": 0.0, "std": 1.0})},
}
# Recurrent layers (RNN, GRU, LSTM, every stacked layer and direction): every input and recurrent weight
# U(-1/sqrt(num_hiddens), 1/sqrt(num_hiddens)), PyTorch's scale, and every bias zero (the frameworks split the biases
# differently, and zero is the one value both split and merged biases can all hold; docs/dsl.md). Each backend's
# RecurrentInits (d2lc.emit.inits) spells it out; tests/test_layer_inits.py checks it.
RECURRENT_DEFAULT = {"weight": ("uniform", {"bound": "1 / sqrt(num_hiddens)"}), "bias": ("zeros", {})}

LOSSES = {
    "squared_loss": "Mean squared error over all elements: mean((y_hat - y) ** 2).",
    "cross_entropy": "Softmax cross-entropy of logits [n, k] against integer labels [n], averaged.",
}

# The language's optimizers compute PyTorch's update rules with PyTorch's defaults (docs/dsl.md, "Training");
# the front end checks the arguments (front/lower_optim.py), each target spells them (targets/<fw>/optimizers.py).
OPTIMIZERS: dict[str, tuple[P, ...]] = {
    "SGD": (P("lr", "scalar"), P("momentum", "scalar", 0.0), P("weight_decay", "scalar", 0.0)),
    "Adam": (P("lr", "scalar", 0.001),),
    "AdamW": (P("lr", "scalar", 0.001), P("weight_decay", "scalar", 0.01)),
    "RMSProp": (P("lr", "scalar", 0.01), P("alpha", "scalar", 0.99), P("eps", "scalar", 1e-8)),
    "Adagrad": (P("lr", "scalar", 0.01), P("eps", "scalar", 1e-10)),
}

# Learning-rate schedules, per optimizer step t = 0, 1, ... (the updates taken before this one), as PyTorch's schedulers
# stepped once per update: StepLR's lr * gamma ** (t // step_size), CosineLR's cosine from lr down to eta_min, MultiStepLR's steps at given updates (docs/dsl.md, "Learning-rate schedules").
SCHEDULES: dict[str, tuple[P, ...]] = {
    "StepLR": (P("lr", "scalar"), P("step_size", "scalar"), P("gamma", "scalar", 0.1)),
    # eta_min + (lr - eta_min) (1 + cos(pi min(t, T_max) / T_max)) / 2: eta_min from step T_max on, as the book's
    # CosineScheduler, Keras' CosineDecay, optax' cosine_decay_schedule and gluon's CosineScheduler keep it
    # with warmup W: lr t / W for t < W (from 0, as the book's CosineScheduler), then the cosine over the T_max - W
    # steps left, counted from the end of the warm-up (optax' warmup_cosine_decay_schedule)
    "CosineLR": (P("lr", "scalar"), P("T_max", "scalar"), P("eta_min", "scalar", 0.0), P("warmup", "scalar", 0)),
    # lr gamma^k, k the number of milestones at or below t: a piecewise constant rate ("multi-factor")
    "MultiStepLR": (P("lr", "scalar"), P("milestones", "shape"), P("gamma", "scalar", 0.1)),
}

DATASETS: dict[str, tuple[P, ...]] = {
    "synthetic_regression": (P("w", "tensor"), P("b", "scalar"), P("num_train", "scalar", 1000), P("num_val", "scalar", 1000),
                             P("noise", "scalar", 0.01), P("batch_size", "scalar", 32)),
    # resize: a size or (height, width) every image is resized to, bilinearly, as it is loaded
    "fashion_mnist": (P("batch_size", "scalar", 64), P("root", "scalar", None), P("resize", "scalar", None)),
    "time_machine": (P("batch_size", "scalar", 32), P("num_steps", "scalar", 35), P("root", "scalar", None)),
    # examples X [n, ...] and labels or targets y [n, ...] held in tensors; the last num_val examples validate
    # (0: validation runs over the training examples, in order)
    "load_array": (P("X", "tensor"), P("y", "tensor"), P("batch_size", "scalar"), P("shuffle", "scalar", True),
                   P("num_val", "scalar", 0)),
}

REQ = REQUIRED
__all__ = ["has_params", "LAYERS", "Weight", "WEIGHTS", "WEIGHT_ROLES", "WEIGHT_NAMES", "PARAM_ROLE", "CONSTANT_ROLE", "INITS", "DEFAULT_INITS", "RECURRENT_DEFAULT", "LOSSES", "OPTIMIZERS", "SCHEDULES", "DATASETS", "LayerSpec", "DType", "Shape", "REQ"]

# the data hub's CSV files that `read_csv(download(NAME))` may name (keys of DATA_HUB in compiler/emit/snippets/download.py)
HUB_CSV = ("kaggle_house_pred_train.csv", "kaggle_house_pred_test.csv")
