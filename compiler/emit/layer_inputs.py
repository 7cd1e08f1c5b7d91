"""The input shapes of a model's layers, worked out from the types of what `forward` feeds them.

Backends whose layers need their input size when they are built (Paddle always, PyTorch for a layer
with a stated initialiser) read it from here: a number where the annotation gives one
(`X: f32[b, 1, 28, 28]`), a hyperparameter's name, or a product of them, where it names one
(`X: f32[n, num_inputs]` in `model M(num_inputs: int)`), and None where it is only known at run time.
"""
from __future__ import annotations

import libcst as cst

from collections.abc import Iterator

from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.types import TensorType

Dim = int | str | None  # a size, a hyperparameter's name or item (`channels[1]`) or a product of them, or unknown


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
                out = _propagate(members[e.member], inner, hparams, found, members)
                if typed is None or len(typed) != len(out):
                    return out
                return tuple(t if t is not None else o for t, o in zip(typed, out))
        return typed

    for s in ir.walk_stmts(m.forward.body):
        chain = _chain(s, members)
        if chain is not None:  # `for blk in blocks: X = blk(X)`: the list's elements applied in turn
            inner = dims_of(chain[1])
            if inner is not None:
                _steps(chain[0].steps, inner, hparams, found, members)
        for e in ir.walk_exprs(s):
            if isinstance(e, ir.ApplyLayer):
                dims_of(e)
    return found


def top_level_stmts(stmts: list[ir.Stmt]) -> Iterator[ir.Stmt]:
    """The statements top-level code runs (those in its loops and branches too), not model or function bodies."""
    for st in stmts:
        if isinstance(st, (ir.ModelDef, ir.FuncDef)):
            continue
        yield st
        if isinstance(st, (ir.For, ir.If)):
            yield from top_level_stmts(st.body + (st.orelse if isinstance(st, ir.If) else []))


def top_level_inputs(module: ir.Module) -> dict[int, tuple[Dim, ...]]:
    """id(layer) -> the shape of its input, for the built-in layers top-level code calls on inputs of static shape
    (`conv1 = Conv2d(96, ...)` then `conv1(X)` with `X: f32[1, 1, 224, 224]`); the first call wins."""
    found: dict[int, tuple[Dim, ...]] = {}
    for st in top_level_stmts(module.stmts()):
        for e in ir.walk_exprs(st):
            if isinstance(e, ir.CallModel) and isinstance(e.layer, ir.Layer) and e.args \
                    and isinstance(e.args[0].type, TensorType) and id(e.layer) not in found:
                dims = tuple(d if isinstance(d, int) else None for d in e.args[0].type.shape)
                _propagate(e.layer, dims, set(), found)
    return found


def matrix_layers(m: ir.ModelDef, inputs: dict[int, tuple[Dim, ...]]) -> set[int]:
    """id(layer) of the layers whose every input is a matrix (rank 2): the first input `inputs` records,
    and for a member applied directly, each of its applications."""
    rank2 = {key for key, dims in inputs.items() if len(dims) == 2}
    members = {mm.name: mm.value for mm in m.members}
    for s in ir.walk_stmts(m.forward.body):
        for e in ir.walk_exprs(s):
            if isinstance(e, ir.ApplyLayer) and isinstance(members.get(e.member), ir.Layer) and not all(
                    isinstance(a.type, TensorType) and len(a.type.shape) == 2 for a in e.args):
                rank2.discard(id(members[e.member]))
    return rank2


def _chain(s: ir.Stmt, members) -> tuple[ir.LayerList, ir.Expr] | None:
    """(the list, its input) for a forward loop whose body is `X = blk(X)` over a layer list member, else None."""
    if not (isinstance(s, ir.For) and isinstance(s.iter, ir.Var) and isinstance(members.get(s.iter.name), ir.LayerList)
            and len(s.body) == 1 and isinstance(s.body[0], ir.Assign)):
        return None
    value = s.body[0].value
    if isinstance(value, ir.ApplyLayer) and value.member == s.var and len(value.args) == 1 \
            and isinstance(value.args[0], ir.Var) and value.args[0].name == s.body[0].name:
        return members[s.iter.name], value.args[0]
    return None


def input_size(inputs: dict[int, tuple[Dim, ...]], layer: ir.Layer, axis: int) -> Dim:
    """The input size of `layer` along `axis`, or None if it is unknown."""
    dims = inputs.get(id(layer))
    return dims[axis] if dims is not None and -len(dims) <= axis < len(dims) else None


def _sym(v, hparams: set[str]) -> Dim:
    if isinstance(v, ir.Const) and isinstance(v.value, int) and not isinstance(v.value, bool):
        return v.value
    if isinstance(v, ir.Var) and v.name in hparams:
        return v.name
    if isinstance(v, ir.Op) and v.op == "getitem" and isinstance(v.args["x"], ir.Var) and v.args["x"].name in hparams:
        index = v.args["index"]  # an item of a tuple hyperparameter at a literal position: `channels[1]`
        if len(index) == 1 and isinstance(index[0], ir.Const) and type(index[0].value) is int:
            return f"{v.args['x'].name}[{index[0].value}]"
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


def _join(a: tuple[Dim, ...], b: tuple[Dim, ...]) -> tuple[Dim, ...]:
    """Dims that hold for both shapes (those that differ are unknown)."""
    return tuple(x if x == y else None for x, y in zip(a, b)) if len(a) == len(b) else tuple(None for _ in a)


def _first_or_later(first: tuple[Dim, ...], later: tuple[Dim, ...], var: str | None) -> tuple[Dim, ...]:
    """A loop's layer input: the same on every pass, or `(first if i == 0 else later)` over `range(n)`, else unknown."""
    if len(first) != len(later):
        return tuple(None for _ in first)
    return tuple(f if f == g else f"({f} if {var} == 0 else {g})" if var is not None and f is not None and g is not None else None
                 for f, g in zip(first, later))


def _steps(steps: list, dims: tuple[Dim, ...], hparams: set[str], found: dict[int, tuple[Dim, ...]], members) -> tuple[Dim, ...]:
    """A layer list's elements applied in turn; a layer in a loop gets the input shape every pass agrees on."""
    for st in steps:
        if isinstance(st, ir.LayerAppend):
            dims = _propagate(st.value, dims, hparams, found, members)
            continue
        if st.names:  # `for a, b in arch:` over a tuple hyperparameter: as many passes as its type has items
            count: int | None = len(st.iter.type.items)
        else:
            bounds = [static_value(st.iter.args[k]) for k in ("start", "stop", "step") if k in st.iter.args]
            count = len(range(*bounds)) if all(isinstance(v, int) for v in bounds) else None
        if count == 0:
            continue
        first: dict[int, tuple[Dim, ...]] = {}
        cur = _steps(st.body, dims, hparams, first, members)  # the shape after one pass
        later: dict[int, tuple[Dim, ...]] = {}
        for _ in range(0 if count == 1 else 4):  # the passes after the first, to a fixed point
            local: dict[int, tuple[Dim, ...]] = {}
            nxt = _join(cur, _steps(st.body, cur, hparams, local, members))
            for key, d in local.items():
                later[key] = _join(later[key], d) if key in later else d
            if nxt == cur:
                break
            cur = nxt
        else:
            if count != 1:
                cur = tuple(None for _ in cur)
        by_pass = not st.names and list(st.iter.args) == ["stop"]  # range(n): the first pass is `i == 0`
        for key, d in first.items():
            found.setdefault(key, d if key not in later else _first_or_later(d, later[key], st.var if by_pass else None))
        dims = cur if count is not None else _join(dims, cur)  # an unknown count may be 0
    return dims


def _propagate(layer, dims: tuple[Dim, ...], hparams: set[str], found: dict[int, tuple[Dim, ...]], members=None) -> tuple[Dim, ...]:
    """Record the input shape of `layer` (and of its children) and return its output shape."""
    if isinstance(layer, ir.Var) and isinstance((members or {}).get(layer.name), ir.LayerList):
        layer = members[layer.name]
    if isinstance(layer, ir.LayerList):
        return _steps(layer.steps, dims, hparams, found, members)
    if not isinstance(layer, ir.Layer):
        return tuple(None for _ in dims)
    found.setdefault(id(layer), dims)
    k, a = layer.kind, layer.args
    if k == "Sequential":
        for child in layer.children:
            dims = _propagate(child, dims, hparams, found, members)
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
        h = _sym(a.get("num_hiddens"), hparams)
        if static_value(a.get("bidirectional")) is True and h is not None:  # both directions, concatenated
            h = 2 * h if isinstance(h, int) else f"{h} * 2"
        return dims[:2] + (h,)
    return dims  # activations, Dropout, BatchNorm, LayerNorm keep the shape


def input_size_code(inputs: dict[int, tuple[Dim, ...]], layer: ir.Layer, axis: int):
    """The input size of `layer` along `axis` as code (a number or hyperparameters), or None if unknown."""
    d = input_size(inputs, layer, axis)
    if d is None:
        return None
    return cst.Integer(str(d)) if isinstance(d, int) else cst.parse_expression(d)
