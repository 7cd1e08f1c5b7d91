"""The canonical parameter layout of a model: every parameter in order, with its IR shape and role.

The IR holds parameters and activations in one layout (Linear weights (out, in), conv kernels OIHW,
activations NCHW); each backend declares its own (`Backend.layouts`). With this list the harness
converts one set of parameters into every framework's layout, so identical values load everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import ir
from .backend import Layouts
from .layers import LAYERS
from .lower import static_value
from .types import TensorType


@dataclass(frozen=True)
class CanonicalParam:
    path: str  # e.g. "net.3.weight" (torch-style: member, Sequential index, role)
    role: str  # dense_weight | dense_bias | conv_kernel | conv_bias | bn_gamma | bn_beta | bn_mean | bn_var | param
    shape: tuple[int, ...]
    flatten_chw: tuple[int, int, int] | None = None  # a dense weight reading a flattened [C, H, W] activation

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
        elif layer.kind in ("RNN", "GRU", "LSTM"):
            raise LayoutUnknown(f"built-in {layer.kind} layers order their gates and biases differently in each framework; "
                                "compare a from-scratch version instead")
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
