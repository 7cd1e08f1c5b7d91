"""The shape/dtype rules of the ops: each takes a `Ctx` and returns the result type, or raises a clear error."""
from __future__ import annotations

from typing import Any

from d2lc.core.ops.spec import Ctx, OpTypeError, shape_error
from d2lc.core.types import BOOL, DEFAULT_FLOAT, DEFAULT_INT, FLOAT, INT, DType, ScalarType, SeqType, Shape, ShapeError, TensorType, Type, broadcast, dims_equal, fmt_shape, norm_axis, numel, promote, scalar_dtype


def _float_of(d: DType) -> DType:
    return d if d.is_float else DEFAULT_FLOAT


def unary_same(c: Ctx) -> Type:
    return c.t("x")


def unary_float(c: Ctx) -> Type:
    x = c.t("x")
    return TensorType(_float_of(x.dtype), x.shape)


def binary(c: Ctx) -> Type:
    a, b = c.types["x"], c.types["y"]
    if isinstance(a, ScalarType) and isinstance(b, ScalarType):
        if c.op in ("truediv",):
            return FLOAT
        return FLOAT if "float" in (a.kind, b.kind) else (INT if "int" in (a.kind, b.kind) else BOOL)
    dtype = promote(a, b)
    if c.op == "truediv":
        dtype = _float_of(dtype)
    shape = broadcast(c.t("x").shape, c.t("y").shape)
    return TensorType(dtype, shape)


def compare(c: Ctx) -> Type:
    a, b = c.types["x"], c.types["y"]
    if isinstance(a, ScalarType) and isinstance(b, ScalarType):
        return BOOL
    return TensorType(DType.bool, broadcast(c.t("x").shape, c.t("y").shape))


def logical(c: Ctx) -> Type:
    for name in ("x", "y"):
        t = c.types.get(name)
        if isinstance(t, TensorType) and t.dtype != DType.bool:
            raise OpTypeError(f"`{c.op}` needs bool tensors, got {t}", expected="bool tensors (from comparisons)",
                              hint="compare first, e.g. (X > 0) & (X < 1)")
    if "y" in c.types:
        return TensorType(DType.bool, broadcast(c.t("x").shape, c.t("y").shape))
    return c.t("x")


def where(c: Ctx) -> Type:
    cond = c.t("cond")
    if cond.dtype != DType.bool:
        raise OpTypeError(f"the condition of `where` must be a bool tensor, got {cond}", expected="a bool tensor",
                          hint="compare first, e.g. `where(X > 0, X, 0)`")
    dtype = promote(c.types["x"], c.types["y"]) if not all(isinstance(c.types[n], ScalarType) for n in "xy") \
        else scalar_dtype(c.types["x"])
    return TensorType(dtype, broadcast(cond.shape, broadcast(c.t("x").shape, c.t("y").shape)))


def _reduced_shape(shape: Shape, axis: Any, keepdims: bool) -> Shape:
    if axis is None:
        return tuple(1 for _ in shape) if keepdims else ()
    axes = axis if isinstance(axis, tuple) else (axis,)
    axes = {norm_axis(a, len(shape)) for a in axes}
    return tuple((1 if keepdims else None) if i in axes else d for i, d in enumerate(shape)
                 if keepdims or i not in axes)


def reduce_same(c: Ctx) -> Type:
    x = c.t("x")
    return TensorType(x.dtype if c.op != "sum" or x.dtype != DType.bool else DEFAULT_INT,
                      _reduced_shape(x.shape, c.static.get("axis"), bool(c.static.get("keepdims"))))


def reduce_float(c: Ctx) -> Type:
    x = c.t("x")
    return TensorType(_float_of(x.dtype), _reduced_shape(x.shape, c.static.get("axis"), bool(c.static.get("keepdims"))))


def reduce_index(c: Ctx) -> Type:
    x = c.t("x")
    axis = c.static.get("axis")
    if isinstance(axis, tuple):
        raise OpTypeError(f"`{c.op}` takes a single axis", expected="an int axis or none",
                          hint="reshape first to merge the axes, then take one axis")
    return TensorType(DType.int64, _reduced_shape(x.shape, axis, bool(c.static.get("keepdims"))))


def matmul(c: Ctx) -> Type:
    a, b = c.t("x"), c.t("y")
    if a.rank == 0 or b.rank == 0:
        raise OpTypeError("`@` needs tensors of rank 1 or more", expected="vectors or matrices", hint="use `*` to scale by a scalar")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.rank >= 2 else b.shape[-1]
    if dims_equal(ka, kb) is False:
        raise ShapeError(f"shape mismatch in matrix product: {fmt_shape(a.shape)} @ {fmt_shape(b.shape)}",
                         expected=f"the last dimension of the left operand ({ka}) to equal "
                                  f"the {'second-to-last' if b.rank >= 2 else 'only'} dimension of the right ({kb})")
    if a.dtype != b.dtype:
        raise OpTypeError(f"matrix product of {a.dtype.value} and {b.dtype.value} tensors",
                          expected="operands of the same dtype", hint=f"cast one side, e.g. `.astype({a.dtype.value})`")
    left = a.shape[:-1]
    right = b.shape[:-2] + b.shape[-1:] if b.rank >= 2 else ()
    if a.rank >= 2 and b.rank >= 2:
        batch = broadcast(a.shape[:-2], b.shape[:-2])
        return TensorType(a.dtype, batch + (a.shape[-2], b.shape[-1]))
    return TensorType(a.dtype, left + right if b.rank >= 2 else left)


def dot(c: Ctx) -> Type:
    a, b = c.t("x"), c.t("y")
    if a.rank != 1 or b.rank != 1:
        raise OpTypeError(f"`dot` takes two vectors, got {a} and {b}", expected="two rank-1 tensors",
                          hint="use `@` (matmul) for matrices")
    if dims_equal(a.shape[0], b.shape[0]) is False:
        raise shape_error(f"`dot` of vectors of lengths {a.shape[0]} and {b.shape[0]}", expected="vectors of equal length",
                          hint="slice the longer vector, or check which vectors you meant")
    if a.dtype != b.dtype:
        raise OpTypeError(f"`dot` of {a.dtype.value} and {b.dtype.value} vectors", expected="the same dtype",
                          hint=f"cast one side, e.g. `.astype({a.dtype.value})`")
    return TensorType(a.dtype, ())


def _creation_dtype(c: Ctx, fallback: DType) -> DType:
    return c.static.get("dtype") or fallback


def _shape_of(c: Ctx) -> Shape:
    shape = c.static.get("shape")
    if shape is None:
        return ()
    return _sizes_ok(c, tuple(d if isinstance(d, int) else None for d in shape))


def _sizes_ok(c: Ctx, shape: Shape) -> Shape:
    """`shape`, after checking that no size is negative."""
    for d in shape:
        if isinstance(d, int) and d < 0:
            raise shape_error(f"`{c.op}` with a negative size {d} in shape {fmt_shape(shape)}", expected="sizes of 0 or more",
                              hint="sizes count elements; use 0 for an empty axis")
    return shape


def _single_axis(c: Ctx, name: str = "axis") -> Any:
    axis = c.static.get(name)
    if isinstance(axis, tuple):
        raise OpTypeError(f"`{c.op}` takes a single axis, got {axis}", expected="one int axis such as 0 or -1",
                          hint="only reductions such as `sum` accept a tuple of axes")
    return axis


def filled(c: Ctx) -> Type:
    fill = c.types.get("value")
    fallback = DEFAULT_FLOAT
    if c.op == "full" and isinstance(fill, ScalarType):
        fallback = scalar_dtype(fill)
    return TensorType(_creation_dtype(c, fallback), _shape_of(c))


def like(c: Ctx) -> Type:
    x = c.t("x")
    return TensorType(_creation_dtype(c, x.dtype), x.shape)


def arange(c: Ctx) -> Type:
    vals = [c.static.get(n) for n in ("start", "stop", "step")]
    kinds = [c.types.get(n) for n in ("start", "stop", "step")]
    is_float = any(isinstance(k, ScalarType) and k.kind == "float" for k in kinds)
    length = None
    start, stop, step = vals
    if stop is None and start is not None and c.types.get("stop") is None:
        start, stop = 0, start
    if step == 0 and isinstance(step, (int, float)) and not isinstance(step, bool):
        raise OpTypeError("`arange` with a step of 0", expected="a non-zero step", hint="the step is the distance between values")
    if all(isinstance(v, (int, float)) for v in (start, stop)) and (step is None or isinstance(step, (int, float))):
        import math
        span = (stop - start) / (step or 1)
        length = max(0, math.ceil(span)) if math.isfinite(span) else None
    return TensorType(_creation_dtype(c, DEFAULT_FLOAT if is_float else DEFAULT_INT), (length,))


def linspace(c: Ctx) -> Type:
    num = c.static.get("num")
    return TensorType(_creation_dtype(c, DEFAULT_FLOAT), _sizes_ok(c, (num if isinstance(num, int) else None,)))


def eye(c: Ctx) -> Type:
    n = c.static.get("n")
    return TensorType(_creation_dtype(c, DEFAULT_FLOAT), _sizes_ok(c, (n if isinstance(n, int) else None,) * 2))


def tensor_lit(c: Ctx) -> Type:
    data = c.static.get("data")
    if data is None:
        raise OpTypeError("`tensor` needs a literal (nested lists of numbers)", expected="e.g. tensor([[1, 2], [3, 4]])",
                          hint="write the values out; use `stack` to build a tensor from tensors")
    shape, kinds = _literal_shape(data)
    dtype = DEFAULT_FLOAT if "float" in kinds else (DType.bool if kinds == {"bool"} else DEFAULT_INT)
    return TensorType(_creation_dtype(c, dtype), shape)


def _literal_shape(data: Any) -> tuple[Shape, set[str]]:
    if isinstance(data, list):
        if not data:
            return (0,), {"float"}
        shapes = [_literal_shape(d) for d in data]
        first = shapes[0][0]
        if any(s[0] != first for s in shapes):
            raise shape_error("ragged nested list: rows have different lengths", expected="rows of equal length",
                              hint="every row of a tensor literal needs the same number of items")
        kinds = set().union(*(s[1] for s in shapes))
        return (len(data),) + first, kinds
    if isinstance(data, bool):
        return (), {"bool"}
    if isinstance(data, int):
        return (), {"int"}
    if isinstance(data, float):
        return (), {"float"}
    return (), {"dynamic"}


def random_draw(c: Ctx) -> Type:
    return TensorType(DEFAULT_FLOAT, _shape_of(c))


def randint(c: Ctx) -> Type:
    for name in ("low", "high"):
        t = c.types[name]
        if not (isinstance(t, ScalarType) and t.kind == "int" or isinstance(t, TensorType) and t.dtype.is_int):
            raise OpTypeError(f"`randint` needs int bounds, got {name}={t}", expected="ints: randint(low, high, shape)",
                              hint="the draws are ints in [low, high); use `uniform` for floats")
    low, high = c.static.get("low"), c.static.get("high")
    if isinstance(low, int) and isinstance(high, int) and low >= high:
        raise OpTypeError(f"`randint` needs low < high, got randint({low}, {high}, ...)", expected="low < high",
                          hint="the draws lie in [low, high): high itself is never drawn")
    return TensorType(DEFAULT_INT, _shape_of(c))


def randperm(c: Ctx) -> Type:
    t = c.types["n"]
    if not (isinstance(t, ScalarType) and t.kind == "int"):
        raise OpTypeError(f"`randperm` needs an int count, got n={t}", expected="an int: randperm(n)",
                          hint="it permutes 0, 1, ..., n - 1; use `int(...)` on a tensor")
    n = c.static.get("n")
    return TensorType(DEFAULT_INT, _sizes_ok(c, (n if isinstance(n, int) and not isinstance(n, bool) else None,)))


def categorical(c: Ctx) -> Type:
    probs = c.t("probs")
    if not probs.dtype.is_float or probs.rank not in (1, 2):
        raise OpTypeError(f"`categorical` needs float probabilities of shape [k] or [n, k], got {probs}",
                          expected="f32[k] or f32[n, k]", hint="one row of class probabilities per distribution; "
                          "use softmax(...) to turn scores into probabilities")
    n = c.static.get("num_samples")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise OpTypeError(f"`num_samples` of `categorical` must be a constant int of at least 1, got {n!r}",
                          expected="an int literal such as 10", hint="the result's shape depends on it")
    return TensorType(DEFAULT_INT, probs.shape[:-1] + (n,))


def bernoulli(c: Ctx) -> Type:
    p = c.static.get("p")
    if isinstance(p, (int, float)) and not isinstance(p, bool) and not 0 <= p <= 1:
        raise OpTypeError(f"`bernoulli` with a probability of {p}", expected="a probability in [0, 1]",
                          hint="p is the chance of drawing 1.0; e.g. 1 - dropout keeps a unit with probability p")
    return TensorType(DEFAULT_FLOAT, _shape_of(c))


def reshape(c: Ctx) -> Type:
    x = c.t("x")
    shape = c.static.get("shape") or ()
    dims: list = [d if isinstance(d, int) else None for d in shape]
    total = numel(x.shape)
    if dims.count(-1) > 1:
        raise OpTypeError("`reshape` can infer at most one dimension", expected="at most one -1",
                          hint="write all sizes but one explicitly")
    _sizes_ok(c, tuple(None if d == -1 else d for d in dims))
    known = 1
    for d in dims:
        if isinstance(d, int) and d != -1:
            known *= d
    if total is not None and None not in dims:
        if -1 in dims:
            if known == 0 or total % known:
                raise ShapeError(f"cannot reshape {fmt_shape(x.shape)} ({total} elements) into {fmt_shape(tuple(shape))}",
                                 expected=f"a shape whose size divides {total}")
            dims[dims.index(-1)] = total // known
        elif known != total:
            raise ShapeError(f"cannot reshape {fmt_shape(x.shape)} ({total} elements) into {fmt_shape(tuple(dims))} ({known} elements)",
                             expected=f"a shape with {total} elements")
    return TensorType(x.dtype, tuple(None if d == -1 else d for d in dims))


def transpose(c: Ctx) -> Type:
    x = c.t("x")
    axes = c.static.get("axes")
    if axes is None:
        return TensorType(x.dtype, tuple(reversed(x.shape)))
    if sorted(norm_axis(a, x.rank) for a in axes) != list(range(x.rank)):
        raise OpTypeError(f"`transpose` axes {tuple(axes)} are not a permutation of {tuple(range(x.rank))}",
                          expected="each axis exactly once", hint=f"list all {x.rank} axes in their new order")
    return TensorType(x.dtype, tuple(x.shape[norm_axis(a, x.rank)] for a in axes))


def _tensor_list(c: Ctx) -> list[TensorType]:
    t = c.types["tensors"]
    from d2lc.core.types import ListType
    if isinstance(t, ListType):
        if not isinstance(t.elem, TensorType):
            raise OpTypeError(f"`{c.op}` of a list that holds no tensors yet", expected="a list filled with `append`",
                              hint="append at least one tensor before joining the list")
        return [TensorType(t.elem.dtype, t.elem.shape), t.elem]
    if not isinstance(t, SeqType) or not t.items:
        raise OpTypeError(f"`{c.op}` takes a non-empty list of tensors", expected="e.g. [X, Y]",
                          hint="pass at least one tensor in the list")
    return [i if isinstance(i, TensorType) else TensorType(DEFAULT_FLOAT, ()) for i in t.items]


def concat(c: Ctx) -> Type:
    ts = _tensor_list(c)
    from d2lc.core.types import ListType
    if isinstance(c.types["tensors"], ListType):
        axis = norm_axis(c.static.get("axis") or 0, ts[0].rank)
        return TensorType(ts[0].dtype, tuple(None if i == axis else d for i, d in enumerate(ts[0].shape)))
    axis = norm_axis(_single_axis(c) or 0, ts[0].rank)
    out = list(ts[0].shape)
    for t in ts[1:]:
        if t.rank != ts[0].rank:
            raise shape_error(f"`concat` of tensors of rank {ts[0].rank} and {t.rank}", expected="tensors of equal rank",
                              hint="reshape or unsqueeze one tensor so the ranks match")
        for i, (a, b) in enumerate(zip(out, t.shape)):
            if i == axis:
                out[i] = a + b if isinstance(a, int) and isinstance(b, int) else None
            elif dims_equal(a, b) is False:
                raise shape_error(f"`concat` along axis {axis}: shapes {fmt_shape(ts[0].shape)} and {fmt_shape(t.shape)} differ in axis {i}",
                                  expected=f"equal sizes in every axis but {axis}",
                                  hint=f"concatenate along axis {i} instead, or slice the tensors to match")
    return TensorType(_common_dtype(c, ts), tuple(out))


def _common_dtype(c: Ctx, ts: list[TensorType]) -> DType:
    if any(t.dtype != ts[0].dtype for t in ts):
        raise OpTypeError(f"`{c.op}` of tensors with different dtypes: " + ", ".join(t.dtype.value for t in ts),
                          expected="tensors of one dtype", hint="cast them first with `.astype(...)`")
    return ts[0].dtype


def stack(c: Ctx) -> Type:
    ts = _tensor_list(c)
    from d2lc.core.types import ListType
    if isinstance(c.types["tensors"], ListType):
        axis = norm_axis(c.static.get("axis") or 0, ts[0].rank + 1)
        shape = list(ts[0].shape)
        shape.insert(axis, None)
        return TensorType(ts[0].dtype, tuple(shape))
    for t in ts[1:]:
        if t.rank != ts[0].rank or any(dims_equal(a, b) is False for a, b in zip(t.shape, ts[0].shape)):
            raise shape_error(f"`stack` of shapes {fmt_shape(ts[0].shape)} and {fmt_shape(t.shape)}", expected="tensors of one shape",
                              hint="use `concat` to join tensors of different lengths along an existing axis")
    axis = norm_axis(_single_axis(c) or 0, ts[0].rank + 1)
    shape = list(ts[0].shape)
    shape.insert(axis, len(ts))
    return TensorType(_common_dtype(c, ts), tuple(shape))


def squeeze(c: Ctx) -> Type:
    x = c.t("x")
    axis = _single_axis(c)
    if axis is None:
        return TensorType(x.dtype, tuple(d for d in x.shape if d != 1))
    a = norm_axis(axis, x.rank)
    if isinstance(x.shape[a], int) and x.shape[a] != 1:
        raise shape_error(f"cannot squeeze axis {axis} of size {x.shape[a]}", expected="an axis of size 1",
                          hint="squeeze only removes axes of size 1; index or reduce the axis instead")
    return TensorType(x.dtype, x.shape[:a] + x.shape[a + 1:])


def unsqueeze(c: Ctx) -> Type:
    x = c.t("x")
    a = norm_axis(_single_axis(c), x.rank + 1)
    return TensorType(x.dtype, x.shape[:a] + (1,) + x.shape[a:])


def cumsum(c: Ctx) -> Type:
    x = c.t("x")
    axis = _single_axis(c)
    if axis is None:
        return TensorType(x.dtype, (numel(x.shape),))
    norm_axis(axis, x.rank)
    return x


def softmax(c: Ctx) -> Type:
    x = c.t("x")
    norm_axis(c.static.get("axis", -1) if c.static.get("axis") is not None else -1, x.rank)
    return TensorType(_float_of(x.dtype), x.shape)


def norm(c: Ctx) -> Type:
    x = c.t("x")
    return TensorType(_float_of(x.dtype), ())


def cast(c: Ctx) -> Type:
    return TensorType(c.static["dtype"], c.t("x").shape)


def clip(c: Ctx) -> Type:
    return c.t("x")


def to_scalar(c: Ctx) -> Type:
    x = c.t("x")
    if x.rank and numel(x.shape) not in (1, None):
        raise OpTypeError(f"`item` of a tensor with shape {fmt_shape(x.shape)}", expected="a tensor with one element",
                          hint="index or reduce the tensor to one element first, e.g. `X[0, 0]` or `X.sum()`")
    return FLOAT if x.dtype.is_float else (BOOL if x.dtype == DType.bool else INT)


def shape_of(c: Ctx) -> Type:
    x = c.t("x")
    return SeqType(tuple(INT for _ in x.shape))


def size_of(c: Ctx) -> Type:
    return INT


def cross_entropy(c: Ctx) -> Type:
    logits, labels = c.t("logits"), c.t("labels")
    if logits.rank != 2 or not logits.dtype.is_float:
        raise OpTypeError(f"`cross_entropy` needs float logits of shape [n, k], got {logits}", expected="f32[n, k] logits",
                          hint="pass the model's raw scores, one row per example")
    if labels.rank != 1 or not labels.dtype.is_int:
        raise OpTypeError(f"`cross_entropy` needs integer labels of shape [n], got {labels}", expected="i64[n] class indices",
                          hint="labels are class indices, not one-hot vectors")
    if dims_equal(logits.shape[0], labels.shape[0]) is False:
        raise shape_error(f"{logits.shape[0]} rows of logits but {labels.shape[0]} labels", expected="one label per row",
                          hint="check that the logits and labels come from the same batch")
    return TensorType(logits.dtype, ())


def squared_loss(c: Ctx) -> Type:
    y_hat, y = c.t("y_hat"), c.t("y")
    broadcast(y_hat.shape, y.shape)
    return TensorType(_float_of(promote(y_hat, y)), ())


def print_(c: Ctx) -> Type:
    return ScalarType("none")


def seed(c: Ctx) -> Type:
    return ScalarType("none")
