"""The canonical parameter layout of a model: every parameter in order, with its IR shape and role.

The IR holds parameters and activations in one layout (Linear weights (out, in), conv kernels OIHW,
activations NCHW, recurrent layers as PyTorch stores them); each backend declares its own
(`Backend.layouts`). With this list the harness converts one set of parameters into every framework's
layout, so identical values load everywhere. Most parameters map one to one; a recurrent layer's four
canonical arrays map to a group of the framework's own (`RECURRENT_LAYOUTS`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from d2lc.core import ir
from d2lc.emit.backend import Layouts
from d2lc.core.layers import LAYERS
from d2lc.core.ir import static_value
from d2lc.core.types import TensorType


@dataclass(frozen=True)
class CanonicalParam:
    path: str  # e.g. "net.3.weight" (torch-style: member, Sequential index, role)
    role: str  # dense_weight | dense_bias | conv_kernel | conv_bias | bn_gamma | bn_beta | bn_mean | bn_var | param
    #            | ln_gamma | ln_beta | embedding | rnn_weight_ih | rnn_weight_hh | rnn_bias_ih | rnn_bias_hh
    shape: tuple[int, ...]
    flatten_chw: tuple[int, int, int] | None = None  # a dense weight reading a flattened [C, H, W] activation
    cell: str | None = None  # "RNN" | "GRU" | "LSTM" for the four arrays of a recurrent layer

    @property
    def trainable(self) -> bool:
        return self.role not in ("bn_mean", "bn_var")


class LayoutUnknown(Exception):
    """A parameter's size depends on something unknown at compile time (an input size, a hyperparameter)."""


def canonical_params(model: ir.ModelDef, input_type: TensorType, models: dict[str, ir.ModelDef] | None = None,
                     hparams: dict[str, int] | None = None) -> list[CanonicalParam]:
    """Every parameter of `model`, in canonical order, for an input of `input_type` (static shape)."""
    out: list[CanonicalParam] = []
    env = dict(hparams or {})
    for p in model.hparams:
        if p.name not in env and p.default is not None:
            v = static_value(p.default)
            if isinstance(v, (int, float)):
                env[p.name] = v

    def value(e) -> int | float:
        v = static_value(e)
        if isinstance(v, (int, float)):
            return v
        if isinstance(e, ir.Var) and isinstance(env.get(e.name), (int, float)):
            return env[e.name]
        raise LayoutUnknown(f"cannot size a parameter: `{getattr(e, 'name', e)}` is not known")

    def walk(layer, prefix: str, shape: tuple[int, ...], flat_from: tuple[int, int, int] | None):
        """Returns the output shape; appends parameters."""
        if not isinstance(layer, ir.Layer):
            raise LayoutUnknown("nested models are not supported in equivalence runs yet")
        if layer.kind == "Sequential":
            for i, child in enumerate(layer.children):
                shape, flat_from = walk(child, f"{prefix}.{i}", shape, flat_from)
            return shape, flat_from
        static = {k: (value(v) if isinstance(v, ir.Expr) and not isinstance(static_value(v), bool) else static_value(v))
                  for k, v in layer.args.items() if v is not None}
        if layer.kind in GATES:  # sized by its arguments, whatever member feeds it
            n_in, h = int(static["num_inputs"]), int(static["num_hiddens"])
            gh = len(GATES[layer.kind]) * h
            for role, dims in zip(RECURRENT_GROUP, ((gh, n_in), (gh, h), (gh,), (gh,))):
                out.append(CanonicalParam(f"{prefix}.{role[4:]}_l0", role, dims, cell=layer.kind))
            return (*shape[:-1], h), None
        t = LAYERS[layer.kind].shape(static, TensorType(input_type.dtype, shape))
        new_shape = tuple(t.shape)
        if layer.kind == "Linear":
            out.append(CanonicalParam(f"{prefix}.weight", "dense_weight", (new_shape[-1], shape[-1]), flat_from))
            if static.get("bias", True):
                out.append(CanonicalParam(f"{prefix}.bias", "dense_bias", (new_shape[-1],)))
            flat_from = None
        elif layer.kind == "Conv2d":
            k = static["kernel"]
            out.append(CanonicalParam(f"{prefix}.weight", "conv_kernel", (new_shape[1], shape[1], k, k)))
            out.append(CanonicalParam(f"{prefix}.bias", "conv_bias", (new_shape[1],)))
        elif layer.kind.startswith("BatchNorm"):
            c = shape[1]
            for role, name in (("bn_gamma", "weight"), ("bn_beta", "bias"), ("bn_mean", "running_mean"), ("bn_var", "running_var")):
                out.append(CanonicalParam(f"{prefix}.{name}", role, (c,)))
        elif layer.kind == "LayerNorm":
            out.append(CanonicalParam(f"{prefix}.weight", "ln_gamma", (shape[-1],)))
            out.append(CanonicalParam(f"{prefix}.bias", "ln_beta", (shape[-1],)))
        elif layer.kind == "Embedding":
            out.append(CanonicalParam(f"{prefix}.weight", "embedding", (static["num_embeddings"], static["dim"])))
        elif layer.kind == "Flatten" and len(shape) == 4:
            flat_from = (shape[1], shape[2], shape[3])
        return new_shape, flat_from

    shape = tuple(input_type.shape)
    if any(not isinstance(d, int) for d in shape):
        raise LayoutUnknown(f"the input shape {shape} must be fully known")
    for m in model.members:
        if isinstance(m.value, ir.ParamDecl):
            dims = static_value(m.value.shape)
            dims = dims if isinstance(dims, tuple) else (dims,)
            if isinstance(m.value.shape, ir.Seq):
                dims = tuple(value(i) for i in m.value.shape.items)
            out.append(CanonicalParam(m.name, "param", tuple(int(d) for d in dims)))
        elif isinstance(m.value, ir.Layer):
            # members are applied in forward; size them from the model input (the common `net(X)` case)
            walk(m.value, m.name, shape, None)
    return out


def to_native(p: CanonicalParam, a: np.ndarray, layouts: Layouts) -> np.ndarray:
    """Canonical array -> the layout a backend stores it in."""
    if p.role == "dense_weight" and layouts.dense_weight == "in_out":
        w = a
        if p.flatten_chw is not None and layouts.activations == "NHWC":
            c, h, wd = p.flatten_chw
            w = w.reshape(a.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(a.shape[0], -1)
        return np.ascontiguousarray(w.T)
    if p.role == "dense_weight" and p.flatten_chw is not None and layouts.activations == "NHWC":
        c, h, wd = p.flatten_chw
        return np.ascontiguousarray(a.reshape(a.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(a.shape[0], -1))
    if p.role == "conv_kernel" and layouts.conv_kernel == "HWIO":
        return np.ascontiguousarray(a.transpose(2, 3, 1, 0))
    if p.role == "param" and a.ndim == 4 and layouts.activations == "NHWC":  # a rank-4 parameter is NCHW-shaped
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1))
    return a


def to_canonical(p: CanonicalParam, a: np.ndarray, layouts: Layouts) -> np.ndarray:
    """A backend's array -> canonical layout (the inverse of `to_native`)."""
    if p.role == "dense_weight" and layouts.dense_weight == "in_out":
        w = a.T
        if p.flatten_chw is not None and layouts.activations == "NHWC":
            c, h, wd = p.flatten_chw
            w = w.reshape(w.shape[0], h, wd, c).transpose(0, 3, 1, 2).reshape(w.shape[0], -1)
        return np.ascontiguousarray(w)
    if p.role == "dense_weight" and p.flatten_chw is not None and layouts.activations == "NHWC":
        c, h, wd = p.flatten_chw
        return np.ascontiguousarray(a.reshape(a.shape[0], h, wd, c).transpose(0, 3, 1, 2).reshape(a.shape[0], -1))
    if p.role == "conv_kernel" and layouts.conv_kernel == "HWIO":
        return np.ascontiguousarray(a.transpose(3, 2, 0, 1))
    if p.role == "param" and a.ndim == 4 and layouts.activations == "NHWC":
        return np.ascontiguousarray(a.transpose(0, 3, 1, 2))
    return a


def activation_to_native(a: np.ndarray, layouts: Layouts) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)) if a.ndim == 4 and layouts.activations == "NHWC" else a


def activation_to_canonical(a: np.ndarray, layouts: Layouts) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2)) if a.ndim == 4 and layouts.activations == "NHWC" else a


# ---- recurrent layers -------------------------------------------------------------------------------------------
# Canonical (PyTorch's) group of four arrays for one recurrent layer of H units and G gates:
# weight_ih (G*H, in), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,), gate blocks in this order.
RECURRENT_GROUP = ("rnn_weight_ih", "rnn_weight_hh", "rnn_bias_ih", "rnn_bias_hh")
GATES = {"RNN": "h", "GRU": "rzn", "LSTM": "ifgo"}  # r reset, z update, n candidate; i, f, g (cell), o


@dataclass(frozen=True)
class Native:
    """One array a framework stores for a recurrent layer, as a function of the canonical group.

    `sources` (short names: ih, hh, b_ih, b_hh) are summed, or stacked along a new first axis when `stack`;
    `gates` picks gate blocks in the framework's order ("" = all, canonical order); `transposed` for (in, G*H).
    """

    sources: tuple[str, ...]
    gates: str = ""
    transposed: bool = False
    stack: bool = False

    @property
    def merged(self) -> bool:
        """One array standing for the sum of several canonical ones (a bias b_ih + b_hh)."""
        return len(self.sources) > 1 and not self.stack


def weight(src: str, gates: str = "") -> Native:
    return Native((src,), gates)


def kernel(src: str, gates: str = "") -> Native:
    return Native((src,), gates, transposed=True)


def bias(*srcs: str, gates: str = "", stack: bool = False) -> Native:
    return Native(tuple(srcs), gates, stack=stack)


_TORCH = (weight("ih"), weight("hh"), bias("b_ih"), bias("b_hh"))
_SOURCES = {"ih": 0, "hh": 1, "b_ih": 2, "b_hh": 3}  # index into the canonical group

# Each framework's arrays for a recurrent layer, in the order its harness glue lists them (d2lc_tensors / d2lc_paths).
RECURRENT_LAYOUTS: dict[str, dict[str, tuple[Native, ...]]] = {
    # torch.nn.RNN/GRU/LSTM; gluon rnn.* (l0_i2h_weight, l0_h2h_weight, l0_i2h_bias, l0_h2h_bias); paddle nn.SimpleRNN/GRU/LSTM
    "torch": {"RNN": _TORCH, "GRU": _TORCH, "LSTM": _TORCH},
    # Keras SimpleRNN / GRU(reset_after=True) / LSTM: kernel (in, G*H), recurrent_kernel (H, G*H), bias;
    # GRU gates z, r, h with bias (2, 3H) = [input bias; recurrent bias]; SimpleRNN and LSTM keep one bias.
    "keras": {
        "RNN": (kernel("ih"), kernel("hh"), bias("b_ih", "b_hh")),
        "GRU": (kernel("ih", "zrn"), kernel("hh", "zrn"), bias("b_ih", "b_hh", gates="zrn", stack=True)),
        "LSTM": (kernel("ih"), kernel("hh"), bias("b_ih", "b_hh")),
    },
    # flax.linen SimpleCell / GRUCell / OptimizedLSTMCell under nn.RNN: one Dense per gate and side, in call order;
    # a gate's two biases are one, except GRU's candidate (its recurrent part is scaled by r).
    "flax": {
        "RNN": (kernel("ih"), bias("b_ih", "b_hh"), kernel("hh")),
        "GRU": (kernel("ih", "r"), bias("b_ih", "b_hh", gates="r"), kernel("hh", "r"),
                kernel("ih", "z"), bias("b_ih", "b_hh", gates="z"), kernel("hh", "z"),
                kernel("ih", "n"), bias("b_ih", gates="n"), kernel("hh", "n"), bias("b_hh", gates="n")),
        "LSTM": tuple(n for g in "ifgo" for n in (kernel("ih", g), kernel("hh", g), bias("b_ih", "b_hh", gates=g))),
    },
}


def recurrent_natives(p: CanonicalParam, layouts: Layouts) -> tuple[Native, ...]:
    """The arrays `layouts` stores for the recurrent layer whose canonical group starts at `p`."""
    return RECURRENT_LAYOUTS[layouts.recurrent][p.cell]


def _blocks(a: np.ndarray, cell: str) -> dict[str, np.ndarray]:
    return dict(zip(GATES[cell], np.split(a, len(GATES[cell]), axis=0)))


def _push(n: Native, group: list[np.ndarray], cell: str) -> np.ndarray:
    """Canonical group -> the one array `n` describes."""
    pieces = []
    for src in n.sources:
        blocks = _blocks(group[_SOURCES[src]], cell)
        pieces.append(np.concatenate([blocks[g] for g in (n.gates or GATES[cell])], axis=0))
    a = np.stack(pieces) if n.stack else sum(pieces[1:], pieces[0])
    return np.ascontiguousarray(a.T if n.transposed else a)


def _pull(n: Native, a: np.ndarray, acc: list[np.ndarray], cell: str) -> None:
    """Adds the transpose of `_push` applied to `a` into the canonical group `acc` (a merged array feeds every source)."""
    a = a.T if n.transposed else a
    pieces = list(a) if n.stack else [a] * len(n.sources)
    gates = n.gates or GATES[cell]
    for src, piece in zip(n.sources, pieces, strict=True):
        target = _blocks(acc[_SOURCES[src]], cell)  # views into acc
        for g, block in zip(gates, np.split(piece, len(gates), axis=0), strict=True):
            target[g] += block


def _groups(params: list[CanonicalParam], layouts: Layouts) -> list[tuple[int, int, tuple[Native, ...] | None]]:
    """(start, canonical count, native arrays or None for a one-to-one parameter), in order."""
    out, i = [], 0
    while i < len(params):
        p = params[i]
        if p.role == RECURRENT_GROUP[0]:
            roles = tuple(q.role for q in params[i:i + len(RECURRENT_GROUP)])
            if roles != RECURRENT_GROUP:
                raise ValueError(f"a recurrent layer's parameters must come as {RECURRENT_GROUP}, got {roles}")
            out.append((i, len(RECURRENT_GROUP), recurrent_natives(p, layouts)))
            i += len(RECURRENT_GROUP)
        else:
            out.append((i, 1, None))
            i += 1
    return out


def params_to_native(params: list[CanonicalParam], arrays: list[np.ndarray], layouts: Layouts) -> list[np.ndarray]:
    """Every canonical array -> the arrays the backend stores, in its order (a recurrent group may change count)."""
    out = []
    for start, count, natives in _groups(params, layouts):
        if natives is None:
            out.append(to_native(params[start], arrays[start], layouts))
        else:
            group = [np.asarray(a, np.float32) for a in arrays[start:start + count]]
            out.extend(_push(n, group, params[start].cell) for n in natives)
    return out


def grads_to_canonical(params: list[CanonicalParam], arrays: list[np.ndarray], layouts: Layouts) -> list[np.ndarray]:
    """A backend's gradients -> canonical ones, by the transpose of `params_to_native` (a merged bias's gradient
    is the gradient of each canonical bias it stands for). For a bijective layout this is also the inverse."""
    arrays, out, k = list(arrays), [], 0
    for start, count, natives in _groups(params, layouts):
        if natives is None:
            out.append(to_canonical(params[start], np.asarray(arrays[k]), layouts))
            k += 1
            continue
        acc = [np.zeros(q.shape, np.float64) for q in params[start:start + count]]
        for n in natives:
            _pull(n, np.asarray(arrays[k], np.float64), acc, params[start].cell)
            k += 1
        out.extend(a.astype(np.float32) for a in acc)
    if k != len(arrays):
        raise ValueError(f"{len(arrays)} arrays for a layout of {k}")
    return out


def params_to_canonical(params: list[CanonicalParam], arrays: list[np.ndarray], layouts: Layouts) -> list[np.ndarray]:
    """A backend's parameter values -> canonical ones (the inverse of `params_to_native`; needs a bijective layout)."""
    reason = not_invertible(params, layouts)
    if reason:
        raise ValueError(reason)
    return grads_to_canonical(params, arrays, layouts)  # a permutation's transpose is its inverse


def not_invertible(params: list[CanonicalParam], layouts: Layouts) -> str | None:
    """Why the backend's parameters cannot be read back as canonical ones (None when they can)."""
    for start, _, natives in _groups(params, layouts):
        if natives is not None and any(n.merged for n in natives):
            return (f"the {layouts.recurrent} {params[start].cell} layer keeps one bias for b_ih + b_hh: its optimizer steps "
                    "move one bias where the canonical layer moves two (forward and gradients are compared)")
    return None
