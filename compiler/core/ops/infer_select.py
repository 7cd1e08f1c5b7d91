"""The shape/dtype rules of sorting, selection and masking ops (sort, topk, flip, take_along_axis, one_hot,
repeat, tile, masked_fill, masked_softmax): each takes a `Ctx` and returns the result type, or raises a clear error."""
from __future__ import annotations

from typing import Any

from d2lc.core.ops.spec import Ctx, OpTypeError, shape_error
from d2lc.core.types import DEFAULT_FLOAT, DType, ScalarType, Shape, TensorType, Type, dims_equal, fmt_shape, norm_axis, \
    numel


def _ranked(c: Ctx, name: str = "x") -> TensorType:
    x = c.t(name)
    if x.rank == 0:
        raise OpTypeError(f"`{c.op}` of a rank-0 tensor (one number)", expected="a tensor with at least one axis",
                          hint="there is nothing to order or select in one number; reshape it, e.g. `x.reshape(1)`")
    return x


def _axis(c: Ctx, rank: int, name: str = "axis", default: int = -1) -> int:
    """The op's single axis, normalised (a tuple is an error); raises on an out-of-range axis."""
    axis = c.static.get(name)
    if isinstance(axis, tuple):
        raise OpTypeError(f"`{c.op}` takes a single axis, got {axis}", expected="one int axis such as 0 or -1",
                          hint="only reductions such as `sum` and `flip` accept a tuple of axes")
    return norm_axis(default if axis is None else axis, rank)


def _count(c: Ctx, name: str, least: int) -> int:
    """A count the result's shape depends on: a constant int >= least."""
    v = c.static.get(name)
    if isinstance(v, bool) or not isinstance(v, int):
        raise OpTypeError(f"`{name}` of `{c.op}` must be a constant int", expected="an int literal such as 2",
                          hint=f"the result's shape depends on `{name}`, so it is fixed when the chapter compiles")
    if v < least:
        raise OpTypeError(f"`{name}` of `{c.op}` is {v}", expected=f"an int of at least {least}",
                          hint=f"`{name}` counts elements" + ("; use 1 or more" if least else "; use 0 or more"))
    return v


def sort(c: Ctx) -> Type:
    x = _ranked(c)
    _axis(c, x.rank)
    if c.op == "argsort":
        return TensorType(DType.int64, x.shape)
    return x


def topk(c: Ctx) -> Type:
    x = _ranked(c)
    axis = _axis(c, x.rank)
    k = _count(c, "k", 1)
    size = x.shape[axis]
    if isinstance(size, int) and k > size:
        raise shape_error(f"`{c.op}` of k={k} elements along axis {axis} of size {size}",
                          expected=f"k of at most {size}", hint=f"take at most {size} elements, or use `sort` for all of them")
    dtype = DType.int64 if c.op == "topk_indices" else x.dtype
    return TensorType(dtype, x.shape[:axis] + (k,) + x.shape[axis + 1:])


def flip(c: Ctx) -> Type:
    x = c.t("x")
    axis = c.static.get("axis")
    axes = () if axis is None else axis if isinstance(axis, tuple) else (axis,)
    normed = [norm_axis(a, x.rank) for a in axes]
    if len(set(normed)) != len(normed):
        raise OpTypeError(f"`flip` names axis {axes} more than once", expected="each axis at most once",
                          hint="flipping an axis twice leaves it as it was; name it once")
    return x


def take_along_axis(c: Ctx) -> Type:
    x = _ranked(c)
    idx = c.t("indices")
    if not idx.dtype.is_int:
        raise OpTypeError(f"the indices of `take_along_axis` must be an int tensor, got {idx}",
                          expected="an int64 tensor of positions", hint="positions are ints, e.g. from `argsort(...)`")
    if idx.rank != x.rank:
        raise shape_error(f"`take_along_axis` of a rank-{x.rank} tensor with rank-{idx.rank} indices",
                          expected=f"indices of rank {x.rank}", hint="add axes of size 1 with `unsqueeze` or `[:, None]`")
    axis = _axis(c, x.rank)
    for i, (a, b) in enumerate(zip(x.shape, idx.shape)):
        if i != axis and dims_equal(a, b) is False:
            raise shape_error(f"`take_along_axis` along axis {axis}: shapes {fmt_shape(x.shape)} and {fmt_shape(idx.shape)} "
                              f"differ in axis {i}", expected=f"equal sizes in every axis but {axis}",
                              hint="the indices pick along one axis; every other axis must match the tensor's")
    return TensorType(x.dtype, idx.shape)


def one_hot(c: Ctx) -> Type:
    x = c.t("x")
    if not x.dtype.is_int:
        raise OpTypeError(f"`one_hot` of {x}", expected="an int tensor of class indices",
                          hint="cast class labels first, e.g. `y.astype(int64)`")
    n = _count(c, "num_classes", 1)
    return TensorType(DEFAULT_FLOAT, x.shape + (n,))


def _times(d: Any, k: int) -> Any:
    return d * k if isinstance(d, int) else (0 if k == 0 else None)


def repeat(c: Ctx) -> Type:
    x = c.t("x")
    k = _count(c, "repeats", 0)
    if c.static.get("axis") is None:
        return TensorType(x.dtype, (_times(numel(x.shape), k),))
    axis = _axis(c, max(x.rank, 1))
    if x.rank == 0:
        return TensorType(x.dtype, (k,))
    return TensorType(x.dtype, x.shape[:axis] + (_times(x.shape[axis], k),) + x.shape[axis + 1:])


def tile(c: Ctx) -> Type:
    x = c.t("x")
    reps = c.static.get("reps") or ()
    if len(reps) != x.rank:
        raise shape_error(f"`tile` of a rank-{x.rank} tensor with {len(reps)} repetition count{'s' * (len(reps) != 1)}",
                          expected=f"{x.rank} counts, one per axis", hint="give a count for every axis; 1 keeps an axis as it is")
    for r in reps:
        if not isinstance(r, int) or isinstance(r, bool):
            raise OpTypeError("the counts of `tile` must be constant ints", expected="a tuple of int literals such as (2, 1)",
                              hint="the result's shape depends on them, so they are fixed when the chapter compiles")
        if r < 0:
            raise OpTypeError(f"`tile` with a negative count {r}", expected="counts of 0 or more",
                              hint="a count says how many copies of an axis to join; 1 keeps the axis")
    return TensorType(x.dtype, tuple(_times(d, r) for d, r in zip(x.shape, reps)))


def _mask(c: Ctx, name: str, shape: Shape) -> TensorType:
    mask = c.t(name)
    if mask.dtype != DType.bool:
        raise OpTypeError(f"the mask of `{c.op}` must be a bool tensor, got {mask}", expected="a bool tensor",
                          hint="compare first, e.g. `masked_fill(X, X < 0, 0.0)`")
    if mask.rank > len(shape) or any(dims_equal(m, s) is False and m != 1
                                     for m, s in zip(reversed(mask.shape), reversed(shape))):
        raise shape_error(f"a mask of shape {fmt_shape(mask.shape)} for a tensor of shape {fmt_shape(shape)}",
                          expected=f"a mask that broadcasts to {fmt_shape(shape)}",
                          hint="the mask's trailing axes must match the tensor's (or be 1)")
    return mask


def masked_fill(c: Ctx) -> Type:
    x = c.t("x")
    _mask(c, "mask", x.shape)
    value = c.types["value"]
    kind = value.kind if isinstance(value, ScalarType) else ("float" if value.dtype.is_float else
                                                             "bool" if value.dtype == DType.bool else "int")
    want = "float" if x.dtype.is_float else "bool" if x.dtype == DType.bool else "int"
    if kind != want and not (want == "float" and kind == "int"):
        raise OpTypeError(f"`masked_fill` of {x} with {'an' if kind == 'int' else 'a'} {kind} value",
                          expected=f"{'a number' if want == 'float' else 'an int' if want == 'int' else 'True or False'} "
                                   f"for {x.dtype.value} tensors",
                          hint="the result keeps the tensor's dtype; cast the tensor first, e.g. `X.astype(float32)`")
    return x


def masked_softmax(c: Ctx) -> Type:
    x = c.t("x")
    if not x.dtype.is_float or x.rank < 2:
        raise OpTypeError(f"`masked_softmax` needs float scores with at least two axes, got {x}",
                          expected="e.g. f32[batch, queries, keys]", hint="softmax runs over the last axis; one row per sequence")
    lens = c.t("valid_lens")
    if not lens.dtype.is_int:
        raise OpTypeError(f"the valid lengths of `masked_softmax` must be an int tensor, got {lens}",
                          expected="an int64 tensor of lengths", hint="lengths count positions; cast with `.astype(int64)`")
    prefix = x.shape[:lens.rank]
    if not 1 <= lens.rank < x.rank or any(dims_equal(a, b) is False for a, b in zip(lens.shape, prefix)):
        raise shape_error(f"valid lengths of shape {fmt_shape(lens.shape)} for scores of shape {fmt_shape(x.shape)}",
                          expected=f"lengths shaped like the leading axes of the scores, e.g. {fmt_shape(x.shape[:1])}"
                                   + (f" or {fmt_shape(x.shape[:-1])}" if x.rank > 2 else ""),
                          hint="one length per sequence (or per query): the positions along the last axis at or past it are masked")
    return x
