"""Lowering of the figure built-ins (`plot`, `heatmap`, `show_images`, core/plots.py), of `load_array`, the data
set made from tensors, and of `fashion_mnist`'s `resize=`: arity, keyword names, value types, ranks, and lengths
wherever they are known."""
from __future__ import annotations

from typing import Any

from d2lc.front import ast as A
from d2lc.front.lower_base import TO_TENSOR, LowererBase, article
from d2lc.front.lower_models import bind
from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.layers import DATASETS
from d2lc.core.plots import PLOTS, SCALES
from d2lc.core.text import is_strs
from d2lc.core.types import ANY, DEFAULT_FLOAT, DEFAULT_INT, NONE, AnyType, DataType, ListType, ScalarType, SeqType, TableType, TensorType, Type, dims_equal, fmt_shape

SIGNATURES = {
    "plot": "plot(x, ys, legend=[...], xlabel=..., ylabel=..., xlim=(lo, hi), ylim=(lo, hi), xscale=..., yscale=..., figsize=(w, h))",
    "hist": "hist(xs, bins=10, legend=[...], xlabel=..., ylabel=..., xlim=(lo, hi), figsize=(w, h))",
    "heatmap": "heatmap(M, xlabel=..., ylabel=..., title=..., cmap=..., figsize=(w, h))",
    "show_images": "show_images(imgs, num_rows, num_cols, titles=[...], scale=...)",
}
EXPECTED_KIND = {"str": "a string", "strs": "a list of strings", "pair": "a pair of numbers (a, b)", "int": "an int",
                 "number": "a number", "scale": " or ".join(f'"{s}"' for s in SCALES)}


def _is(t: Type, *kinds: str) -> bool:
    return isinstance(t, AnyType) or isinstance(t, ScalarType) and t.kind in kinds


def _fits(v: ir.Expr, kind: str) -> bool:
    """Whether a keyword value has the type its parameter's kind asks for."""
    t = v.type
    if isinstance(t, AnyType):
        return True
    if kind in ("str", "scale"):
        return _is(t, "str") and (kind == "str" or static_value(v) in SCALES)
    if kind == "strs":  # written out, or a list of strings known at run time (`text_labels(y)`, `text.split()`)
        return isinstance(t, SeqType) and all(_is(i, "str") for i in t.items) or isinstance(t, ListType) and is_strs(t)
    if kind == "pair":
        return isinstance(t, SeqType) and len(t.items) == 2 and all(_is(i, "int", "float") for i in t.items)
    if kind == "int":
        return _is(t, "int")
    return _is(t, "int", "float")


def _count(v: ir.Expr | None) -> int | None:
    """The number of items of a tuple or list whose length the compiler knows."""
    return len(v.type.items) if v is not None and isinstance(v.type, SeqType) else None


def lower_figure(lw: LowererBase, e: A.Call, name: str) -> ir.Expr:
    """`plot(...)`, `heatmap(...)` or `show_images(...)`: a statement drawing one figure."""
    if lw.current_model is not None or lw.scope is not lw.globals:
        for a in [*e.args, *(kw.value for kw in e.kwargs)]:
            lw.expr(a)
        return lw.error(e.func.loc, f"`{name}` draws a figure at the top level of a chapter, not inside a "
                        + ("model" if lw.current_model is not None else "function"),
                        expected=f"{name}(...) outside `def` and `model` blocks",
                        hint="return the values and draw them at the top level of the chapter")
    args = bind(lw, PLOTS[name], e, name, hint=f"the call is {SIGNATURES[name]}")
    if args is None:
        return ir.Const(ANY, e.loc, None)
    params = {p.name: p for p in PLOTS[name]}
    ok = True
    for key, v in args.items():
        kind = params[key].kind
        if v is not None and kind not in ("tensor", "tensors") and not _fits(v, kind):
            got = f'"{static_value(v)}"' if kind == "scale" and isinstance(static_value(v), str) else article(v.type)
            lw.error(v.loc, f"`{name}`'s `{key}` must be {EXPECTED_KIND[kind]}, got {got}", expected=EXPECTED_KIND[kind],
                     hint={"scale": "matplotlib's axis scales: \"linear\" (the default) or \"log\"",
                           "pair": f"write two numbers in parentheses, e.g. {key}=(0, 1)",
                           "strs": f'write a list of strings, e.g. {key}=["a", "b"]'}.get(kind, f"see {SIGNATURES[name]}"))
            ok = False
    ok = {"plot": _check_plot, "hist": _check_hist, "heatmap": _check_heatmap, "show_images": _check_images}[name](lw, args) and ok
    return ir.Op(NONE, e.loc, name, args) if ok else ir.Const(ANY, e.loc, None)


def _tensor(lw: LowererBase, v: ir.Expr, what: str, ranks: tuple[int, ...], shown: str, numeric: bool = True) -> bool:
    if isinstance(v.type, AnyType):
        return True
    rank_text = " or ".join(str(r) for r in ranks)
    if not isinstance(v.type, TensorType):
        lw.error(v.loc, f"{what} must be a tensor, got {article(v.type)}", expected=f"a tensor of rank {rank_text}",
                 hint=TO_TENSOR if isinstance(v.type, TableType) else "make one with `tensor([...])` or compute it with tensor ops")
        return False
    if v.type.rank not in ranks:
        lw.error(v.loc, f"{what} must have rank {rank_text}, got {v.type} (rank {v.type.rank})", expected=shown,
                 hint="reshape it, or index the part to draw")
        return False
    if numeric and v.type.dtype.value == "bool":
        lw.error(v.loc, f"{what} must hold numbers, got a bool tensor", expected="an int or float tensor",
                 hint="convert it first, e.g. `.astype(float32)`")
        return False
    return True


def _series(v: ir.Expr) -> list[ir.Expr] | None:
    """The tensors a figure draws from `v`: one tensor, a list built with `append` (one stands for all), or a list
    written out (or a name holding one); None if `v` is none of these."""
    t = v.type
    if isinstance(t, TensorType):
        return [v]
    if isinstance(t, ListType) and (t.elem is None or isinstance(t.elem, TensorType)):
        return [ir.Var(t.elem, v.loc, "_")] if t.elem is not None else []
    if isinstance(t, SeqType):
        return v.items if isinstance(v, ir.Seq) else [ir.Var(i, v.loc, "_") for i in t.items]
    return None


def _check_plot(lw: LowererBase, args: dict[str, Any]) -> bool:
    x, ys = args["x"], args["ys"]
    if not _tensor(lw, x, "`plot`'s x", (1,), "x: a 1-D tensor [n]"):
        return False
    n = x.type.shape[0] if isinstance(x.type, TensorType) else None
    curves = _series(ys)
    if isinstance(ys.type, AnyType):
        return True
    if curves is None:
        lw.error(ys.loc, f"`plot`'s ys must be a 1-D tensor or a list of them, got {article(ys.type)}",
                 expected="ys: a tensor [n], or [y1, y2, ...] of tensors [n]", hint="pass the curves as a list: plot(x, [y1, y2])")
        return False
    for y in curves:
        if not _tensor(lw, y, "each curve of `plot`", (1,), "a 1-D tensor with one value per x"):
            return False
        if isinstance(y.type, TensorType) and dims_equal(n, y.type.shape[0]) is False:
            lw.error(y.loc, f"this curve has {y.type.shape[0]} values but x has {n}", expected=f"a curve of shape {fmt_shape((n,))}",
                     hint="every curve needs one value per x")
            return False
    return _legend_and_size(lw, args, ys, len(curves), "plot", "curve", "ys")


def _check_hist(lw: LowererBase, args: dict[str, Any]) -> bool:
    """`hist(xs, ...)`: one 1-D tensor of numbers, or a list of them (a histogram each, of any lengths)."""
    xs = args["xs"]
    data = _series(xs)
    if isinstance(xs.type, AnyType):
        return True
    if data is None:
        lw.error(xs.loc, f"`hist`'s xs must be a 1-D tensor or a list of them, got {article(xs.type)}",
                 expected="xs: a tensor [n], or [a, b, ...] of 1-D tensors",
                 hint="make a tensor of a list of numbers with `tensor(counts)`" if isinstance(xs.type, ListType)
                 else "pass the data sets as a list: hist([a, b])")
        return False
    for x in data:
        if not _tensor(lw, x, "each data set of `hist`", (1,), "a 1-D tensor of numbers"):
            return False
    bins = static_value(args["bins"]) if args["bins"] is not None else 10
    if isinstance(bins, int) and bins < 1:
        lw.error(args["bins"].loc, f"`hist` needs at least one bin, got {bins}", expected="bins >= 1",
                 hint="the default is 10 bins")
        return False
    return _legend_and_size(lw, args, xs, len(data), "hist", "data set", "xs")


def _legend_and_size(lw: LowererBase, args: dict[str, Any], series: ir.Expr, drawn: int, figure: str, thing: str,
                     param: str) -> bool:
    """One legend name per series drawn (where both counts are known), and a positive figure size."""
    legend = _count(args["legend"])
    if legend is not None and not isinstance(series.type, ListType) and legend != drawn:
        lw.error(args["legend"].loc, f"`legend` names {legend} {thing}{'s' * (legend != 1)}, but `{figure}` draws {drawn}",
                 expected=f"{drawn} name{'s' * (drawn != 1)}", hint=f"give one name per {thing}, in the order of {param}")
        return False
    return _positive_pair(lw, args["figsize"], "figsize")


def _positive_pair(lw: LowererBase, v: ir.Expr | None, key: str) -> bool:
    pair = static_value(v)
    if isinstance(pair, tuple) and any(isinstance(a, (int, float)) and a <= 0 for a in pair):
        lw.error(v.loc, f"`{key}` must be positive, got {pair}", expected="(width, height) in inches, both > 0",
                 hint="e.g. figsize=(3.5, 2.5)")
        return False
    return True


def _check_heatmap(lw: LowererBase, args: dict[str, Any]) -> bool:
    return _tensor(lw, args["M"], "`heatmap`'s matrix", (2, 4), "M: [rows, cols], or a grid [grid_rows, grid_cols, rows, cols]") \
        and _positive_pair(lw, args["figsize"], "figsize")


def _check_images(lw: LowererBase, args: dict[str, Any]) -> bool:
    imgs = args["imgs"]
    if not _tensor(lw, imgs, "`show_images`' images", (3, 4), "imgs: [n, channels, height, width] or [n, height, width]"):
        return False
    shape = imgs.type.shape if isinstance(imgs.type, TensorType) else ()
    if len(shape) == 4 and isinstance(shape[1], int) and shape[1] not in (1, 3):
        lw.error(imgs.loc, f"`show_images` draws images with 1 or 3 channels, got {shape[1]} ({imgs.type})",
                 expected="imgs: [n, 1, height, width] (grey) or [n, 3, height, width] (colour)",
                 hint="the DSL's images are [n, channels, height, width]; select the channels to show")
        return False
    for key in ("num_rows", "num_cols"):
        v = static_value(args[key])
        if isinstance(v, int) and v <= 0:
            lw.error(args[key].loc, f"`{key}` must be positive, got {v}", expected="a grid of at least one row and one column")
            return False
    rows, cols, n = static_value(args["num_rows"]), static_value(args["num_cols"]), shape[0] if shape else None
    if isinstance(rows, int) and isinstance(cols, int) and isinstance(n, int) and n > rows * cols:
        lw.error(imgs.loc, f"{n} images do not fit a grid of {rows} x {cols}", expected=f"at most {rows * cols} images",
                 hint=f"show fewer, e.g. imgs[:{rows * cols}], or make the grid larger")
        return False
    titles = _count(args["titles"])
    if titles is not None and isinstance(n, int) and titles != n:
        lw.error(args["titles"].loc, f"`titles` has {titles} entr{'ies' if titles != 1 else 'y'} for {n} images",
                 expected=f"{n} titles, one per image", hint="give one title per image, in order")
        return False
    return True


def lower_load_array(lw: LowererBase, e: A.Call) -> ir.Expr:
    """`load_array(X, y, batch_size, shuffle=True, num_val=0)`: a data set `train` reads, made from two tensors."""
    args = bind(lw, DATASETS["load_array"], e, "load_array", hint="the call is load_array(X, y, batch_size, shuffle=True, num_val=0)")
    if args is None:
        return ir.Const(ANY, e.loc, None)
    X, y = args["X"], args["y"]
    ok = _tensor(lw, X, "`load_array`'s X", (1, 2, 3, 4), "X: a tensor of examples [n, ...]", numeric=False) \
        and _tensor(lw, y, "`load_array`'s y", (1, 2), "y: labels [n] or targets [n, k]", numeric=False)
    n = X.type.shape[0] if isinstance(X.type, TensorType) else None
    if ok and isinstance(y.type, TensorType) and dims_equal(n, y.type.shape[0]) is False:
        lw.error(y.loc, f"X has {n} examples but y has {y.type.shape[0]}", expected=f"y with {n} rows, one per example",
                 hint="X and y must have the same first dimension")
        ok = False
    for key, kinds, what in (("batch_size", ("int",), "an int"), ("shuffle", ("bool",), "True or False"), ("num_val", ("int",), "an int")):
        v = args[key]
        if v is not None and not _is(v.type, *kinds):
            lw.error(v.loc, f"`load_array`'s `{key}` must be {what}, got {article(v.type)}", expected=what)
            ok = False
    batch, num_val = static_value(args["batch_size"]), static_value(args["num_val"])
    if isinstance(batch, int) and batch <= 0:
        lw.error(args["batch_size"].loc, f"`batch_size` must be positive, got {batch}", expected="a batch of at least one example")
        ok = False
    if isinstance(num_val, int) and (num_val < 0 or isinstance(n, int) and num_val >= n):
        lw.error(args["num_val"].loc, f"`num_val` must be at least 0 and less than the {n} examples, got {num_val}"
                 if isinstance(n, int) else f"`num_val` must be at least 0, got {num_val}",
                 expected="0 (validate on the training examples) or the number of examples held out at the end",
                 hint="the last num_val examples validate; the others train")
        ok = False
    if not ok:
        return ir.Const(ANY, e.loc, None)
    return ir.Construct(DataType("data", _batch(X.type), _batch(y.type)), e.loc, "load_array", args)


def _batch(t: Type) -> TensorType | None:
    """The type of a batch of a tensor's rows: any number of them."""
    return TensorType(t.dtype, (None,) + t.shape[1:]) if isinstance(t, TensorType) else None


def lower_fashion_mnist(lw: LowererBase, e: A.Call) -> ir.Expr:
    """`fashion_mnist(batch_size=64, root=None, resize=None)`; `resize` is a size or (height, width)."""
    args = bind(lw, DATASETS["fashion_mnist"], e, "fashion_mnist")
    if args is None:
        return ir.Const(ANY, e.loc, None)
    resize = args["resize"]
    if resize is not None and not isinstance(resize.type, AnyType):
        t = resize.type
        size = static_value(resize)
        sizes = size if isinstance(size, tuple) else (size,)
        if not (_is(t, "int") or isinstance(t, SeqType) and len(t.items) == 2 and all(_is(i, "int") for i in t.items)):
            return lw.error(resize.loc, f"`resize` must be a size or (height, width), got {article(t)}", expected="an int or a pair of ints",
                            hint="e.g. resize=224 or resize=(224, 224)")
        if any(isinstance(v, int) and v <= 0 for v in sizes):
            return lw.error(resize.loc, f"`resize` must be positive, got {size}", expected="image sizes of at least one pixel")
    size = static_value(resize) if resize is not None else 28
    height, width = size if isinstance(size, tuple) else (size, size)
    images = TensorType(DEFAULT_FLOAT, (None, 1, height if isinstance(height, int) else None, width if isinstance(width, int) else None))
    return ir.Construct(DataType("data", images, TensorType(DEFAULT_INT, (None,))), e.loc, "fashion_mnist", args)


def lower_dataset(lw: LowererBase, e: A.Call) -> ir.Expr:
    """`synthetic_regression(w, b, ...)` (examples [n, len(w)], targets [n, 1]) and `time_machine(...)` (token ids
    [batch, num_steps], the next ones as labels)."""
    name = e.func.id  # type: ignore[attr-defined]
    args = bind(lw, DATASETS[name], e, name)
    if args is None:
        return ir.Const(ANY, e.loc, None)
    if name == "synthetic_regression":
        w = args["w"].type
        k = w.shape[0] if isinstance(w, TensorType) and w.rank == 1 else None
        examples, labels = TensorType(DEFAULT_FLOAT, (None, k)), TensorType(DEFAULT_FLOAT, (None, 1))
    else:
        steps = static_value(args["num_steps"]) if args["num_steps"] is not None else 35
        examples = labels = TensorType(DEFAULT_INT, (None, steps if isinstance(steps, int) else None))
    return ir.Construct(DataType("data", examples, labels), e.loc, name, args)


# every data set: its arguments checked, the types of its batches known
DATA_FROM = {"load_array": lower_load_array, "fashion_mnist": lower_fashion_mnist, "synthetic_regression": lower_dataset,
             "time_machine": lower_dataset}
