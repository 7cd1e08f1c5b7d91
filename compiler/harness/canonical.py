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

from d2lc.emit.backend import Layouts
from d2lc.core.layers import CONSTANT_ROLE, LAYERS, PARAM_ROLE, WEIGHTS


@dataclass(frozen=True)
class CanonicalParam:
    path: str  # e.g. "net.3.weight" (torch-style: member, Sequential index, role)
    role: str  # one of d2lc.core.layers.WEIGHT_ROLES: the layer specs say how each is stored (Weight.layout)
    shape: tuple[int, ...]
    flatten_chw: tuple[int, int, int] | None = None  # a dense weight reading a flattened [C, H, W] activation
    cell: str | None = None  # "RNN" | "GRU" | "LSTM" for the four arrays of a recurrent layer

    @property
    def trainable(self) -> bool:
        return WEIGHTS[self.role].trainable

    @property
    def layout(self) -> str:
        """The Weight.layout of its role: dense, kernel, gates, or empty (stored alike everywhere)."""
        return WEIGHTS[self.role].layout


def to_native(p: CanonicalParam, a: np.ndarray, layouts: Layouts) -> np.ndarray:
    """Canonical array -> the layout a backend stores it in."""
    if p.layout == "dense" and layouts.dense_weight == "in_out":
        w = a
        if p.flatten_chw is not None and layouts.activations == "NHWC":
            c, h, wd = p.flatten_chw
            w = w.reshape(a.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(a.shape[0], -1)
        return np.ascontiguousarray(w.T)
    if p.layout == "dense" and p.flatten_chw is not None and layouts.activations == "NHWC":
        c, h, wd = p.flatten_chw
        return np.ascontiguousarray(a.reshape(a.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(a.shape[0], -1))
    if p.layout == "kernel" and layouts.conv_kernel == "HWIO":
        return np.ascontiguousarray(a.transpose(2, 3, 1, 0))
    if p.role in (PARAM_ROLE, CONSTANT_ROLE) and a.ndim == 4 and layouts.activations == "NHWC":  # a rank-4 parameter is NCHW-shaped
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1))
    return a


def to_canonical(p: CanonicalParam, a: np.ndarray, layouts: Layouts) -> np.ndarray:
    """A backend's array -> canonical layout (the inverse of `to_native`)."""
    if p.layout == "dense" and layouts.dense_weight == "in_out":
        w = a.T
        if p.flatten_chw is not None and layouts.activations == "NHWC":
            c, h, wd = p.flatten_chw
            w = w.reshape(w.shape[0], h, wd, c).transpose(0, 3, 1, 2).reshape(w.shape[0], -1)
        return np.ascontiguousarray(w)
    if p.layout == "dense" and p.flatten_chw is not None and layouts.activations == "NHWC":
        c, h, wd = p.flatten_chw
        return np.ascontiguousarray(a.reshape(a.shape[0], h, wd, c).transpose(0, 3, 1, 2).reshape(a.shape[0], -1))
    if p.layout == "kernel" and layouts.conv_kernel == "HWIO":
        return np.ascontiguousarray(a.transpose(3, 2, 0, 1))
    if p.role in (PARAM_ROLE, CONSTANT_ROLE) and a.ndim == 4 and layouts.activations == "NHWC":
        return np.ascontiguousarray(a.transpose(0, 3, 1, 2))
    return a


def activation_to_native(a: np.ndarray, layouts: Layouts) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1)) if a.ndim == 4 and layouts.activations == "NHWC" else a


def activation_to_canonical(a: np.ndarray, layouts: Layouts) -> np.ndarray:
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2)) if a.ndim == 4 and layouts.activations == "NHWC" else a


# ---- recurrent layers -------------------------------------------------------------------------------------------
# Canonical (PyTorch's) group of four arrays for one recurrent layer of H units and G gates:
# weight_ih (G*H, in), weight_hh (G*H, H), bias_ih (G*H,), bias_hh (G*H,), gate blocks in this order.
RECURRENT_GROUP = tuple(role for role, w in WEIGHTS.items() if w.layout == "gates")  # rnn_weight_ih, ..., rnn_bias_hh
GATES = {kind: spec.gates for kind, spec in LAYERS.items() if spec.gates}  # {"GRU": "rzn", ...} (core/layers.py)


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


def param_groups(params: list[CanonicalParam], layouts: Layouts) -> list[tuple[int, int, tuple[Native, ...] | None]]:
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
    for start, count, natives in param_groups(params, layouts):
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
    for start, count, natives in param_groups(params, layouts):
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
    for start, _, natives in param_groups(params, layouts):
        if natives is not None and any(n.merged for n in natives):
            return (f"the {layouts.recurrent} {params[start].cell} layer keeps one bias for b_ih + b_hh: its optimizer steps "
                    "move one bias where the canonical layer moves two (forward and gradients are compared)")
    return None
