"""The input shapes of a model's layers, worked out from the types of what `forward` feeds them.

Backends whose layers need their input size when they are built (Paddle always, PyTorch for a layer
with a stated initialiser) read it from here: a number where the annotation gives one
(`X: f32[b, 1, 28, 28]`), a hyperparameter's name, or a product of them, where it names one
(`X: f32[n, num_inputs]` in `model M(num_inputs: int)`), and None where it is only known at run time.
"""
from __future__ import annotations

import libcst as cst

from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.types import TensorType

Dim = int | str | None  # a size, a hyperparameter's name (or a product of them), or unknown


def layer_inputs(m: ir.ModelDef) -> dict[int, tuple[Dim, ...]]:
    """id(layer) -> the shape of its input, for every layer `forward` applies (first use wins)."""
    members = {mm.name: mm.value for mm in m.members}
    hparams = {hp.name for hp in m.hparams}
    found: dict[int, tuple[Dim, ...]] = {}

    def dims_of(e: ir.Expr) -> tuple[Dim, ...] | None:
        """The shape of a value from its type, with what the layers computing it tell (`head(gru(embedding(X)))`)."""
        typed = tuple(d if isinstance(d, int) or d in hparams else None for d in e.type.shape) \
            if isinstance(e.type, TensorType) else None
        if isinstance(e, ir.ApplyLayer) and isinstance(members.get(e.member), ir.Layer) and e.args:
            inner = dims_of(e.args[0])
            if inner is not None:
                out = _propagate(members[e.member], inner, hparams, found)
                if typed is None or len(typed) != len(out):
                    return out
                return tuple(t if t is not None else o for t, o in zip(typed, out))
        return typed

    for s in ir.walk_stmts(m.forward.body):
        for e in ir.walk_exprs(s):
            if isinstance(e, ir.ApplyLayer):
                dims_of(e)
    return found


def input_size(inputs: dict[int, tuple[Dim, ...]], layer: ir.Layer, axis: int) -> Dim:
    """The input size of `layer` along `axis`, or None if it is unknown."""
    dims = inputs.get(id(layer))
    return dims[axis] if dims is not None and -len(dims) <= axis < len(dims) else None


def _sym(v, hparams: set[str]) -> Dim:
    if isinstance(v, ir.Const) and isinstance(v.value, int) and not isinstance(v.value, bool):
        return v.value
    if isinstance(v, ir.Var) and v.name in hparams:
        return v.name
    return None


def _product(dims: tuple[Dim, ...]) -> Dim:
    if any(d is None for d in dims):
        return None
    ints = [d for d in dims if isinstance(d, int)]
    names = [d for d in dims if isinstance(d, str)]
    total = 1
    for d in ints:
        total *= d
    return total if not names else " * ".join(names + ([str(total)] if total != 1 else []))


def _window(n: Dim, k, s, p) -> Dim:
    if not all(isinstance(v, int) for v in (n, k, s, p)):
        return None
    return (n + 2 * p - k) // s + 1


def _propagate(layer, dims: tuple[Dim, ...], hparams: set[str], found: dict[int, tuple[Dim, ...]]) -> tuple[Dim, ...]:
    """Record the input shape of `layer` (and of its children) and return its output shape."""
    if not isinstance(layer, ir.Layer):
        return tuple(None for _ in dims)
    found.setdefault(id(layer), dims)
    k, a = layer.kind, layer.args
    if k == "Sequential":
        for child in layer.children:
            dims = _propagate(child, dims, hparams, found)
        return dims
    if k == "Linear" and dims:
        return dims[:-1] + (_sym(a.get("out_features"), hparams),)
    if k == "Flatten" and dims:
        return (dims[0], _product(dims[1:]))
    if k in ("Conv2d", "MaxPool2d", "AvgPool2d") and len(dims) == 4:
        kernel = static_value(a.get("kernel"))
        stride = static_value(a.get("stride")) if a.get("stride") is not None else (1 if k == "Conv2d" else kernel)
        padding = static_value(a.get("padding")) if a.get("padding") is not None else 0
        channels = _sym(a.get("out_channels"), hparams) if k == "Conv2d" else dims[1]
        return (dims[0], channels, _window(dims[2], kernel, stride, padding), _window(dims[3], kernel, stride, padding))
    if k == "Embedding":
        return dims + (_sym(a.get("dim"), hparams),)
    if k in ("RNN", "GRU", "LSTM") and len(dims) == 3:
        return dims[:2] + (_sym(a.get("num_hiddens"), hparams),)
    return dims  # activations, Dropout, BatchNorm, LayerNorm keep the shape


def input_size_code(inputs: dict[int, tuple[Dim, ...]], layer: ir.Layer, axis: int):
    """The input size of `layer` along `axis` as code (a number or hyperparameters), or None if unknown."""
    d = input_size(inputs, layer, axis)
    if d is None:
        return None
    return cst.Integer(str(d)) if isinstance(d, int) else cst.parse_expression(d)
