"""PyTorch op table: where PyTorch spells an op differently from the shared base table (d2lc.emit.base_ops)."""
from pathlib import Path

import libcst as cst

from d2lc.emit.dtypes import creation_defaults
from d2lc.emit.fmt import attr
from d2lc.emit.base_ops import base_ops
from d2lc.emit.rules import Attr, Custom, DTyped, Fn, Method, Tmpl, call
from d2lc.emit.snippet_rules import snippet_call
from d2lc.emit.select_ops import axes_of, int_list
from d2lc.core.types import DType

SNIPPETS = Path(__file__).parent / "snippets"


def _rank(node, name="x"):
    return node.args[name].type.rank


def _max_min(method: str, reduce: str):
    def emit(em, node):
        if node.args.get("axis") is None:
            return Method(method).emit(em, node)
        return Method(reduce, dim="axis", keepdim="keepdims").emit(em, node)
    return Custom(emit)


def _clamp(bound: str, fn: str):
    def emit(em, node):
        if node.args["y"].type.__class__.__name__ == "ScalarType":
            return call("torch.clamp", em.expr(node.args["x"]), **{bound: em.expr(node.args["y"])})
        return Fn(fn, "x", "y").emit(em, node)
    return Custom(emit)


def _normal(em, node):
    mean, std = node.args.get("mean"), node.args.get("std")
    if mean is None and std is None:
        return Fn("torch.randn", "*shape").emit(em, node)
    return call("torch.normal", em.value(mean if mean is not None else 0.0), em.value(std if std is not None else 1.0),
                size=em.value(node.args["shape"]))


def _uniform(em, node):
    low, high = node.args.get("low"), node.args.get("high")
    if low is None and high is None:
        return Fn("torch.rand", "*shape").emit(em, node)
    return Tmpl("torch.empty({shape}).uniform_({low}, {high})").emit(em, node) if low is not None and high is not None else \
        Tmpl("torch.rand({shape}) * {high}").emit(em, node)


def _transpose(em, node):
    axes = node.args.get("axes")
    if axes is None and _rank(node) <= 2:
        return Attr("T").emit(em, node)
    if axes is None:
        return Method("permute", "*axes").emit(em, _with_axes(node))
    return Method("permute", "*axes").emit(em, node)


def _with_axes(node):
    from d2lc.core import ir
    from d2lc.core.types import INT, SeqType
    rank = _rank(node)
    axes = ir.Seq(SeqType((INT,) * rank), node.loc, [ir.Const(INT, node.loc, i) for i in reversed(range(rank))])
    return ir.Op(node.type, node.loc, node.op, {**node.args, "axes": axes})


def _keep_int32(em, node, method):
    """torch sums small ints into int64; the DSL keeps int32 as int32."""
    out = Method(method, dim="axis", keepdim="keepdims").emit(em, node)
    if node.type.dtype == DType.int32:
        import libcst as cst
        out = out.with_changes(args=[*out.args, cst.Arg(em.dtype_expr(DType.int32), keyword=cst.Name("dtype"),
                                                      equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))])
    return out


def _var(em, node):
    expr = Method("var", dim="axis", keepdim="keepdims").emit(em, node)
    import libcst as cst
    return expr.with_changes(args=[*expr.args, cst.Arg(cst.Integer("0"), keyword=cst.Name("correction"),
                                                      equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))])


def _cumsum(em, node):
    if node.args.get("axis") is None:
        import libcst as cst
        flat = cst.Call(attr(em.expr(node.args["x"]), cst.Name("flatten")), [])
        return cst.Call(attr(flat, cst.Name("cumsum")), [cst.Arg(cst.Integer("0"))])
    return Method("cumsum", "axis").emit(em, node)


def _field(rule, name: str):
    """`rule`'s result's named field: torch.sort and torch.topk give (values, indices)."""
    return Custom(lambda em, node: attr(rule.emit(em, node), cst.Name(name)))


def _long(em, node, name):
    """An index tensor as int64: torch.gather and one_hot take no int32 indices."""
    e = node.args[name]
    code = em.expr(e)
    return em.cast(code, e, DType.int64) if e.type.dtype != DType.int64 else code


def _gather(em, node):
    return call("torch.gather", em.expr(node.args["x"]), em.arg(node, "axis"), _long(em, node, "indices"))


def _one_hot(em, node):
    return em.cast(call("nn.functional.one_hot", _long(em, node, "x"), em.arg(node, "num_classes")), node, DType.float32)


def _getitem(em, node):
    """PyTorch slices take no negative steps: `X[::-k]` is `torch.flip(X, [axis])[::k]`."""
    from d2lc.core import ir
    from d2lc.core.ir import static_value
    items, rank = node.args["index"], node.args["x"].type.rank
    consumed = sum(1 for i in items if not isinstance(i, ir.IndexEllipsis) and not (isinstance(i, ir.Const) and i.value is None))
    axes, out, pos = [], [], 0
    for it in items:
        step = static_value(it.step) if isinstance(it, ir.IndexSlice) else None
        if isinstance(step, int) and step < 0:
            axes.append(pos)
            it = ir.IndexSlice(it.start, it.stop, None if step == -1 else ir.Const(it.step.type, it.step.loc, -step))
        out.append(it)
        pos += rank - consumed if isinstance(it, ir.IndexEllipsis) else 0 if isinstance(it, ir.Const) and it.value is None else 1
    if not axes:
        return em.subscript(em.expr(node.args["x"]), items)
    flipped = call("torch.flip", em.expr(node.args["x"]), int_list(axes))
    while out and isinstance(out[-1], ir.IndexSlice) and out[-1].start is None and out[-1].stop is None \
            and out[-1].step is None:
        out.pop()  # `[-1, :]` is `[-1]`
    return em.subscript(flipped, out) if out else flipped


def _flip(em, node):
    return call("torch.flip", em.expr(node.args["x"]), int_list(axes_of(em, node)))


OPS = {
    **base_ops("torch"),
    # creation
    "tensor": DTyped(Fn("torch.tensor", "data")),
    "normal": Custom(_normal),
    "uniform": Custom(_uniform),
    "randint": Fn("torch.randint", "low", "high", "shape"),
    "bernoulli": Tmpl("torch.bernoulli(torch.full({shape}, {p}))"),
    "randperm": Fn("torch.randperm", "n"),
    "categorical": Tmpl("torch.multinomial({probs}, {num_samples}, replacement=True)"),
    "seed": Fn("torch.manual_seed", "value"),
    # elementwise
    "sigmoid": Fn("torch.sigmoid"), "relu": Fn("torch.relu"), "gelu": Fn("nn.functional.gelu"),
    "maximum": _clamp("min", "torch.maximum"), "minimum": _clamp("max", "torch.minimum"),
    "clip": Fn("torch.clamp", "x", "min", "max"),
    # reductions: `dim=`/`keepdim=`
    "sum": Custom(lambda em, node: _keep_int32(em, node, "sum")),
    "mean": Method("mean", dim="axis", keepdim="keepdims"),
    "max": _max_min("max", "amax"),
    "min": _max_min("min", "amin"),
    "prod": Custom(lambda em, node: _keep_int32(em, node, "prod")),
    "var": Custom(_var),
    "argmax": Method("argmax", dim="axis", keepdim="keepdims"),
    "argmin": Method("argmin", dim="axis", keepdim="keepdims"),
    "cumsum": Custom(_cumsum),
    "softmax": Fn("torch.softmax", "x", dim="!axis"),
    # sorting and selection
    "sort": _field(Fn("torch.sort", "x", dim="axis", descending="descending"), "values"),
    "argsort": Fn("torch.argsort", "x", dim="axis", descending="descending"),
    "topk_values": _field(Fn("torch.topk", "x", "k", dim="axis"), "values"),
    "topk_indices": _field(Fn("torch.topk", "x", "k", dim="axis"), "indices"),
    "take_along_axis": Custom(_gather),
    "one_hot": Custom(_one_hot),
    "masked_fill": Method("masked_fill", "mask", "value"),
    # shape
    "getitem": Custom(_getitem),
    "transpose": Custom(_transpose),
    "concat": Fn("torch.cat", "tensors", dim="axis"),
    "stack": Fn("torch.stack", "tensors", dim="axis"),
    "squeeze": Method("squeeze", "axis"),
    "unsqueeze": Method("unsqueeze", "axis"),
    "flip": Custom(_flip),
    "repeat": Fn("torch.repeat_interleave", "x", "repeats", dim="axis"),
    # misc
    "clone": Method("clone"),
    "astype": Method("to", "dtype"),
    "numel": Method("numel"),
    # losses
    "cross_entropy": Fn("nn.functional.cross_entropy", "logits", "labels"),
    "squared_loss": Fn("nn.functional.mse_loss", "y_hat", "y"),
    # devices
    "num_gpus": Tmpl("torch.cuda.device_count()"),
    "cpu": Tmpl('torch.device("cpu")'),
    "try_gpu": snippet_call(SNIPPETS, "try_gpu", "i"),
    "try_all_gpus": snippet_call(SNIPPETS, "try_all_gpus"),
    "device": Attr("device"),
    "to_device": Method("to", "device"),
}

natural_dtype = creation_defaults(int_dtype=DType.int64)
