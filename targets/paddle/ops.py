"""PaddlePaddle op table: where Paddle spells an op differently from the shared base table (d2lc.emit.base_ops).

Paddle 3.x reads much like NumPy and PyTorch (`paddle.exp`, `x.sum()`, `x.clone()`); it differs in
`keepdim=` for reductions, lists for shapes, and the rows below. Checked against paddle 3.3.1; the
op equivalence suite (tests/corpus) runs every op, inherited or not, on Paddle too.
"""
from pathlib import Path

import libcst as cst

from d2lc.core import ir
from d2lc.emit.dtypes import creation_defaults, literal_kind, widened_sum
from d2lc.emit.fmt import attr
from d2lc.emit.base_ops import ELEMENTWISE, base_ops
from d2lc.emit.rules import Attr, Custom, DTyped, Fn, Method, Tmpl, call, with_dtype
from d2lc.emit.snippet_rules import snippet_call
from d2lc.emit.select_ops import axes_of, int_list
from d2lc.core.types import DType, ScalarType, SeqType

# ---- what Paddle spells differently ----------------------------------------------------------
def _listed(node: ir.Op, param: str) -> ir.Op:
    """The op with a literal shape/axes argument written as a list: Paddle's idiom is `[3, 4]`."""
    v = node.args.get(param)
    if isinstance(v, ir.Seq) and v.kind == "tuple":
        v = ir.Seq(SeqType(v.type.items, "list"), v.loc, v.items, "list")
        return ir.Op(node.type, node.loc, node.op, {**node.args, param: v})
    return node

SNIPPETS = Path(__file__).parent / "snippets"


def shape_list(rule, param: str = "shape"):
    """`rule` with its shape argument as a list: `paddle.zeros([2, 3])`, `x.reshape([3, 4])`."""
    return Custom(lambda em, node: rule.emit(em, _listed(node, param)))


def _transpose(em, node):
    rank = node.args["x"].type.rank
    axes = node.args.get("axes")
    if axes is None and rank <= 2:
        x = em.operand(node, "x")
        s = em.current_stmt
        if isinstance(node.args["x"], ir.ParamRef) and isinstance(x, cst.Attribute) and x.attr.value == "T" \
                and not (isinstance(s, (ir.Assign, ir.Unpack)) and s.value is node):
            # a Linear weight read in the canonical (out, in) layout is `w.T`: its transpose, in an expression, is `w`
            # (not bound to a name, where `w` itself would alias the parameter)
            return x.value
        return attr(x, cst.Name("T"))
    if axes is None:  # Paddle's transpose always takes the full permutation
        perm = cst.List([cst.Element(cst.Integer(str(i))) for i in reversed(range(rank))])
        return cst.Call(attr(em.expr(node.args["x"]), cst.Name("transpose")), [cst.Arg(perm)])
    return Method("transpose", "axes").emit(em, _listed(node, "axes"))


def _var(em, node):
    expr = Method("var", axis="axis", keepdim="keepdims").emit(em, _listed(node, "axis"))  # Paddle's default is unbiased
    return expr.with_changes(args=[*expr.args, cst.Arg(cst.Name("False"), keyword=cst.Name("unbiased"),
                                                      equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))])


def _bound(fn: str, kw: str):
    """maximum/minimum: `paddle.maximum` wants two tensors; against a Python number it is a one-sided clip."""
    def emit(em, node):
        if isinstance(node.args["y"].type, ScalarType):
            return call("paddle.clip", em.operand(node, "x"), **{kw: em.operand(node, "y")})
        return Fn(fn, "x", "y").emit(em, node)
    return Custom(emit)


def _relu(em, node):
    if node.type.dtype.is_float:
        return Fn("paddle.nn.functional.relu").emit(em, node)
    return call("paddle.clip", em.operand(node, "x"), min=cst.Integer("0"))  # no integer relu kernel


def _where(em, node):
    """`paddle.where` turns Python numbers into float32 tensors: outside float32, make them tensors of the right dtype."""
    want = em.compute_dtype(node)
    args = [cst.Arg(em.expr(node.args["cond"]))]
    for name in ("x", "y"):
        v = node.args[name]
        code = em.operand(node, name)
        if isinstance(v.type, ScalarType) and want is not None and (want != DType.float32 or v.type.kind == "bool"):
            code = call("paddle.to_tensor", code, dtype=em.dtype_expr(want))
        args.append(cst.Arg(code))
    return cst.Call(cst.parse_expression("paddle.where"), args)


def _clip(em, node):
    """`paddle.clip` raises when min > max; PyTorch and NumPy then give max. Chain the bounds unless both are known."""
    from d2lc.core.ir import static_value
    lo, hi = static_value(node.args["min"]), static_value(node.args["max"])
    if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo <= hi:
        return Fn("paddle.clip", "x", "min", "max").emit(em, node)
    lower = call("paddle.clip", em.operand(node, "x"), min=em.arg(node, "min"))
    return cst.Call(attr(lower, cst.Name("clip")), [cst.Arg(em.arg(node, "max"), keyword=cst.Name("max"),
                    equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")))])


def _normal(em, node):
    mean, std = node.args.get("mean"), node.args.get("std")
    node = _listed(node, "shape")
    if mean is None and std is None:
        return Fn("paddle.randn", "shape").emit(em, node)
    return call("paddle.normal", em.value(mean if mean is not None else 0.0), em.value(std if std is not None else 1.0),
                shape=em.value(node.args["shape"]))


def _uniform(em, node):
    low, high = node.args.get("low"), node.args.get("high")
    node = _listed(node, "shape")
    if low is None and high is None:  # paddle.uniform defaults to [-1, 1): rand is [0, 1)
        return Fn("paddle.rand", "shape").emit(em, node)
    return call("paddle.uniform", em.value(node.args["shape"]), min=em.value(low if low is not None else 0.0),
                max=em.value(high if high is not None else 1.0))


def _reduce(method: str):
    """`x.mean(axis=[0, 2, 3], keepdim=True)`: several axes as a list, Paddle's idiom."""
    return shape_list(Method(method, axis="axis", keepdim="keepdims"), "axis")


def _topk(field: int):
    """paddle.topk gives (values, indices)."""
    def emit(em, node):
        out = Fn("paddle.topk", "x", "k", axis="axis").emit(em, node)
        return cst.Subscript(out, [cst.SubscriptElement(cst.Index(cst.Integer(str(field))))])
    return Custom(emit)


def _flip(em, node):
    if node.args.get("axis") is not None:
        return Fn("paddle.flip", "x", axis="axis").emit(em, node)
    return call("paddle.flip", em.expr(node.args["x"]), axis=int_list(axes_of(em, node)))  # paddle.flip needs its axes


OPS = {
    **base_ops("paddle"),
    # creation
    "tensor": DTyped(Fn("paddle.to_tensor", "data")),
    "zeros": shape_list(DTyped(Fn("paddle.zeros", "shape"))),
    "ones": shape_list(DTyped(Fn("paddle.ones", "shape"))),
    "full": shape_list(DTyped(Fn("paddle.full", "shape", "value"))),
    "normal": Custom(_normal),
    "uniform": Custom(_uniform),
    "randint": shape_list(Fn("paddle.randint", "low", "high", "shape")),
    "bernoulli": shape_list(Tmpl("paddle.bernoulli(paddle.full({shape}, {p}))")),
    "randperm": Fn("paddle.randperm", "n"),
    "categorical": Tmpl("paddle.multinomial({probs}, {num_samples}, replacement=True)"),
    "seed": Fn("paddle.seed", "value"),
    # elementwise
    "sigmoid": Fn("paddle.nn.functional.sigmoid"),
    "gelu": Fn("paddle.nn.functional.gelu"),
    "relu": Custom(_relu),
    "maximum": _bound("paddle.maximum", "min"),
    "minimum": _bound("paddle.minimum", "max"),
    "where": Custom(_where),
    "clip": Custom(_clip),
    # reductions: `keepdim=`; Paddle widens int32 sums to int64 (dtype= keeps int32, see natural_dtype)
    # but keeps int32 products; its cumsum flattens when no axis is given
    **{name: _reduce(name) for name in ("mean", "max", "min", "prod", "argmax", "argmin")},
    "sum": with_dtype(_reduce("sum")),
    "var": Custom(_var),
    "cumsum": Method("cumsum", axis="axis"),
    "softmax": Fn("paddle.nn.functional.softmax", "x", axis="axis"),
    # sorting and selection
    "topk_values": _topk(0),
    "topk_indices": _topk(1),
    "one_hot": Fn("paddle.nn.functional.one_hot", "x", "num_classes"),
    "masked_fill": Method("masked_fill", "mask", "value"),
    # shape
    "reshape": shape_list(Method("reshape", "shape")),
    "flip": Custom(_flip),
    "repeat": Fn("paddle.repeat_interleave", "x", "repeats", axis="axis"),
    "tile": shape_list(Fn("paddle.tile", "x", "reps"), "reps"),
    "transpose": Custom(_transpose),
    "concat": shape_list(Fn("paddle.concat", "tensors", axis="axis"), "tensors"),  # a list of tensors
    "stack": shape_list(Fn("paddle.stack", "tensors", axis="axis"), "tensors"),
    "squeeze": Method("squeeze", "axis"),
    "unsqueeze": Method("unsqueeze", "axis"),
    # misc
    "clone": Method("clone"),
    # losses
    "cross_entropy": Fn("paddle.nn.functional.cross_entropy", "logits", "labels"),
    "squared_loss": Fn("paddle.nn.functional.mse_loss", "y_hat", "y"),
    # devices: a place
    "num_gpus": Tmpl("paddle.device.cuda.device_count()"),
    "cpu": Tmpl("paddle.CPUPlace()"),
    "try_gpu": snippet_call(SNIPPETS, "try_gpu", "i"),
    "try_all_gpus": snippet_call(SNIPPETS, "try_all_gpus"),
    "device": Attr("place"),
    "to_device": Method("to", "device"),
}

# Paddle refuses mixed-dtype tensor operands (int64 * float32, int64 + int32) and averages int
# tensors into ints: cast tensor operands to the IR's dtype first. Against a Python number Paddle
# already promotes the way the IR does, so the emitter skips the cast there (see emitter.py).
CAST_OPERANDS = ELEMENTWISE | {"mean", "var", "norm", "softmax", "squared_loss"}

_torch_like = creation_defaults(int_dtype=DType.int64)


def natural_dtype(op: ir.Op) -> DType | None:
    """The dtype Paddle gives without `dtype=`: as PyTorch, except `full` is float32 for any number."""
    if op.op == "full":
        return DType.bool if literal_kind(op.args.get("value")) == "bool" else DType.float32
    return widened_sum(op, DType.int64) or _torch_like(op)
