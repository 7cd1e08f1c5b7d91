"""The op table: every op of the DSL with its spec, and the spellings the front end reads from it."""
from __future__ import annotations

from d2lc.core.ops.infer import (arange, bernoulli, binary, cast, categorical, clip, compare, concat, cross_entropy, cumsum, dot,
                                 eye, filled, like, linspace, logical, matmul, norm, print_, randint, random_draw, randperm,
                                 reduce_float, reduce_index, reduce_same, reshape, seed, shape_of, size_of, softmax,
                                 squared_loss, squeeze, stack, tensor_lit, to_scalar, transpose, unary_float,
                                 unary_same, unsqueeze, where)
from d2lc.core.ops.infer_device import copy_to, count, device, devices
from d2lc.core.ops.infer_select import (flip, masked_fill, masked_softmax, one_hot, repeat, sort, take_along_axis, tile,
                                        topk)
from d2lc.core.ops.spec import OpSpec, P

X = P("x", "tensor")
Y = P("y", "tensor")
AXIS = P("axis", "axis", None)
KEEP = P("keepdims", "flag", False)
DT = P("dtype", "dtype", None)
BROADCAST_HINT = "reshape one operand so the trailing dimensions line up, or index to select matching parts"


def _u(name: str, rule, doc: str, **kw) -> OpSpec:
    return OpSpec(name, (X,), rule, doc, category="elementwise", **kw)


def _b(name: str, rule, doc: str, **kw) -> OpSpec:
    return OpSpec(name, (X, Y), rule, doc, category="elementwise", shape_hint=BROADCAST_HINT, **kw)


def _cmp(name: str, operator: str) -> OpSpec:
    """A comparison `x OP y`: bool results, computed in the operands' promoted dtype."""
    return _b(name, compare, f"x {operator} y.", differentiable=False, function=False, operator=operator,
              promotes_operands=True, passes_values=False)


def _r(name: str, rule, doc: str, **kw) -> OpSpec:
    return OpSpec(name, (X, AXIS, KEEP), rule, doc, category="reduction", **kw)


SPECS: dict[str, OpSpec] = {s.name: s for s in [
    # creation
    OpSpec("tensor", (P("data", "data"), DT), tensor_lit, "A tensor from a (nested) list literal.", False, "creation"),
    OpSpec("arange", (P("start", "scalar"), P("stop", "scalar", None), P("step", "scalar", None), DT), arange,
           "Evenly spaced values in [start, stop); ints give int64, floats float32.", False, "creation"),
    OpSpec("zeros", (P("shape", "shape"), DT), filled, "A tensor of zeros (float32 unless dtype says).", False, "creation", "shape"),
    OpSpec("ones", (P("shape", "shape"), DT), filled, "A tensor of ones.", False, "creation", "shape"),
    OpSpec("full", (P("shape", "shape"), P("value", "scalar"), DT), filled, "A tensor filled with one value.", False, "creation"),
    OpSpec("linspace", (P("start", "scalar"), P("stop", "scalar"), P("num", "scalar"), DT), linspace,
           "`num` evenly spaced values from start to stop inclusive.", False, "creation"),
    OpSpec("eye", (P("n", "scalar"), DT), eye, "The n×n identity matrix.", False, "creation"),
    OpSpec("zeros_like", (X, DT), like, "Zeros with the shape (and dtype) of x.", False, "creation",
           passes_values=False),
    OpSpec("ones_like", (X, DT), like, "Ones with the shape (and dtype) of x.", False, "creation", passes_values=False),
    OpSpec("full_like", (X, P("value", "scalar"), DT), like, "A value with the shape of x.", False, "creation"),
    OpSpec("normal", (P("shape", "shape"), P("mean", "scalar", 0.0), P("std", "scalar", 1.0)), random_draw,
           "Gaussian draws, float32, from the notebook's seeded generator.", False, "random"),
    OpSpec("uniform", (P("shape", "shape"), P("low", "scalar", 0.0), P("high", "scalar", 1.0)), random_draw,
           "Uniform draws in [low, high), float32, from the notebook's seeded generator.", False, "random"),
    OpSpec("randint", (P("low", "scalar"), P("high", "scalar"), P("shape", "shape")), randint,
           "Uniform integer draws in [low, high), int64, from the notebook's seeded generator.", False, "random"),
    OpSpec("bernoulli", (P("p", "scalar"), P("shape", "shape")), bernoulli,
           "Draws of 1.0 with probability p, else 0.0 (float32), from the notebook's seeded generator.", False, "random"),
    OpSpec("randperm", (P("n", "scalar"),), randperm,
           "A random order of 0, 1, ..., n - 1 (int64), from the notebook's seeded generator.", False, "random"),
    OpSpec("categorical", (P("probs", "tensor"), P("num_samples", "scalar")), categorical,
           "num_samples class indices drawn with replacement from each row of probabilities; int64.", False, "random"),
    OpSpec("seed", (P("value", "scalar"),), seed, "Seeds the notebook's random generator.", False, "random"),
    # elementwise
    _u("exp", unary_float, "e to the x.", method=True, array_name="exp"),
    _u("log", unary_float, "Natural logarithm.", method=True, array_name="log", positive=("x",)),
    _u("sqrt", unary_float, "Square root.", method=True, array_name="sqrt", positive=("x",)),
    _u("sin", unary_float, "Sine.", array_name="sin"),
    _u("cos", unary_float, "Cosine.", array_name="cos"),
    _u("tanh", unary_float, "Hyperbolic tangent.", array_name="tanh"),
    _u("sigmoid", unary_float, "1 / (1 + exp(-x))."),
    _u("relu", unary_same, "max(x, 0)."),
    _u("gelu", unary_float, "x * P(N(0, 1) <= x), the exact (erf) form."),
    _u("abs", unary_same, "Absolute value.", method=True, array_name="abs"),
    _u("square", unary_same, "x * x.", array_name="square"),
    _u("sign", unary_same, "-1, 0 or 1.", array_name="sign"),
    _u("floor", unary_same, "Round down.", array_name="floor"),
    _u("ceil", unary_same, "Round up.", array_name="ceil"),
    _u("neg", unary_same, "-x.", function=False, operator="-"),
    _u("logical_not", logical, "~x for bool tensors.", differentiable=False, operator="~", passes_values=False),
    _b("add", binary, "x + y.", function=False, operator="+"),
    _b("sub", binary, "x - y.", function=False, operator="-"),
    _b("mul", binary, "x * y.", function=False, operator="*"),
    _b("truediv", binary, "x / y (true division; ints give float32).", function=False, operator="/", positive=("y",)),
    _b("floordiv", binary, "x // y.", differentiable=False, function=False, operator="//", positive=("y",)),
    _b("mod", binary, "x % y.", differentiable=False, function=False, operator="%", positive=("y",)),
    _b("pow", binary, "x ** y.", function=False, operator="**"),
    _b("maximum", binary, "Elementwise maximum.", array_name="maximum", number_operands=True),
    _b("minimum", binary, "Elementwise minimum.", array_name="minimum", number_operands=True),
    _cmp("eq", "=="),
    _cmp("ne", "!="),
    _cmp("lt", "<"),
    _cmp("le", "<="),
    _cmp("gt", ">"),
    _cmp("ge", ">="),
    _b("logical_and", logical, "x & y for bool tensors.", differentiable=False, operator="&", passes_values=False),
    _b("logical_or", logical, "x | y for bool tensors.", differentiable=False, operator="|", passes_values=False),
    _b("logical_xor", logical, "x ^ y for bool tensors.", differentiable=False, function=False, operator="^",
           passes_values=False),
    OpSpec("where", (P("cond", "tensor"), X, Y), where, "x where cond holds, else y.", category="elementwise",
           number_operands=True, promotes_operands=True, nondiff=("cond",), shape_hint=BROADCAST_HINT),
    OpSpec("clip", (X, P("min", "scalar"), P("max", "scalar")), clip, "Clamp x into [min, max].",
           category="elementwise", method=True, number_operands=True),
    # reductions
    _r("sum", reduce_same, "Sum over an axis (or all).", method=True),
    _r("mean", reduce_float, "Mean over an axis (or all).", method=True),
    _r("max", reduce_same, "Maximum over an axis (or all).", method=True, distinct=("x",)),
    _r("min", reduce_same, "Minimum over an axis (or all).", method=True, distinct=("x",)),
    _r("prod", reduce_same, "Product over an axis (or all).", method=True),
    _r("var", reduce_float, "Population variance (divides by n) over an axis (or all).", method=True),
    _r("argmax", reduce_index, "Index of the maximum (flat index when no axis); int64.", differentiable=False,
           method=True, distinct=("x",), passes_values=False),
    _r("argmin", reduce_index, "Index of the minimum (flat index when no axis); int64.", differentiable=False,
           method=True, distinct=("x",), passes_values=False),
    OpSpec("cumsum", (X, AXIS), cumsum, "Running sum along an axis (flattened when none).", category="reduction",
           method=True),
    OpSpec("norm", (X,), norm, "The L2 (Frobenius) norm of all elements.", category="reduction", method=True),
    OpSpec("softmax", (X, P("axis", "axis", -1)), softmax, "exp(x) / sum(exp(x)) along an axis (the last by default).",
           category="reduction", method=True),
    # sorting and selection
    OpSpec("sort", (X, P("axis", "axis", -1), P("descending", "flag", False)), sort,
           "The values sorted along an axis (the last by default), smallest first unless descending.", category="selection",
           method=True),
    OpSpec("argsort", (X, P("axis", "axis", -1), P("descending", "flag", False)), sort,
           "The positions that sort x along an axis; int64. Ties: in no promised order.", False, "selection",
           method=True, distinct=("x",), passes_values=False),
    OpSpec("topk_values", (X, P("k", "scalar"), P("axis", "axis", -1)), topk,
           "The k largest values along an axis (the last by default), largest first.", category="selection"),
    OpSpec("topk_indices", (X, P("k", "scalar"), P("axis", "axis", -1)), topk,
           "The positions of the k largest values along an axis, largest first; int64.", False, "selection",
           distinct=("x",), passes_values=False),
    OpSpec("take_along_axis", (X, P("indices", "tensor"), P("axis", "axis")), take_along_axis,
           "The values of x at the positions `indices` along one axis (a gather); the result has the indices' shape.",
           category="selection", index_of=("indices", "x", "axis"), nondiff=("indices",),
           shape_hint="the indices need x's rank and its sizes in every other axis"),
    OpSpec("one_hot", (X, P("num_classes", "scalar")), one_hot,
           "Class indices in [0, num_classes) as float32 one-hot rows: a new last axis of length num_classes.", False,
           "selection", index_of=("x", "num_classes", None), passes_values=False),
    OpSpec("masked_fill", (X, P("mask", "tensor"), P("value", "scalar")), masked_fill,
           "x with `value` where mask holds (the mask broadcasts to x's shape); keeps x's dtype.", category="selection",
           method=True, nondiff=("mask",), number_operands=True, shape_hint=BROADCAST_HINT),
    OpSpec("masked_softmax", (X, P("valid_lens", "tensor")), masked_softmax,
           "Softmax over the last axis that gives positions at or past each valid length a zero weight.",
           category="selection", nondiff=("valid_lens",)),
    # linear algebra
    OpSpec("matmul", (X, Y), matmul, "Matrix product, `x @ y`.", category="linalg", operator="@",
           shape_hint="transpose one operand (`.T`) or check which axis holds the features"),
    OpSpec("dot", (X, Y), dot, "Dot product of two vectors.", category="linalg", array_name="dot"),
    # shape
    OpSpec("reshape", (X, P("shape", "shape")), reshape, "Same elements, new shape; one -1 is inferred.",
           category="shape", varargs="shape", method=True, view=True,
           shape_hint="the number of elements must stay the same"),
    OpSpec("transpose", (X, P("axes", "axes", None)), transpose, "Permute axes (reverse them when none given); `.T`.",
           category="shape", varargs="axes", method=True, view=True),
    OpSpec("concat", (P("tensors", "tensors"), P("axis", "axis", 0)), concat, "Join tensors along an existing axis.",
           category="shape"),
    OpSpec("stack", (P("tensors", "tensors"), P("axis", "axis", 0)), stack, "Join tensors along a new axis.",
           category="shape"),
    OpSpec("squeeze", (X, AXIS), squeeze, "Drop axes of size 1.", category="shape", method=True, view=True),
    OpSpec("unsqueeze", (X, P("axis", "axis")), unsqueeze, "Insert an axis of size 1.", category="shape", method=True,
           view=True),
    OpSpec("flip", (X, P("axis", "axis", None)), flip, "Reverse the order along an axis, a tuple of axes, or all of them.",
           category="shape"),
    OpSpec("repeat", (X, P("repeats", "scalar"), P("axis", "axis", None)), repeat,
           "Repeat each element `repeats` times along an axis (of the flattened tensor when none).", category="shape"),
    OpSpec("tile", (X, P("reps", "shape")), tile, "Repeat the whole tensor `reps[i]` times along each axis i.",
           category="shape", varargs="reps"),
    OpSpec("getitem", (X, P("index", "index")), lambda c: c.static["result"], "Indexing and slicing.", category="shape",
           function=False, view=True),
    # misc
    OpSpec("clone", (X,), unary_same, "A copy that does not share memory.", category="misc", method=True),
    OpSpec("detach", (X,), unary_same, "The same values, cut from the gradient graph.", False, "misc", method=True,
           view=True),
    OpSpec("astype", (X, P("dtype", "dtype")), cast, "Convert to another dtype.", category="misc", method=True),
    OpSpec("item", (X,), to_scalar, "The single element as a Python number.", False, "misc", function=False,
           method=True),
    OpSpec("shape", (X,), shape_of, "The shape as a tuple of ints.", False, "misc", function=False,
           passes_values=False),
    OpSpec("numel", (X,), size_of, "The number of elements.", False, "misc", method=True, passes_values=False),
    OpSpec("len", (X,), size_of, "The size of the first axis.", False, "misc", passes_values=False),
    OpSpec("print", (), print_, "Print values.", False, "io", varargs="values"),
    # devices
    OpSpec("num_gpus", (), count, "The number of GPUs the framework sees.", False, "device", passes_values=False),
    OpSpec("cpu", (), device, "The CPU.", False, "device", passes_values=False),
    OpSpec("try_gpu", (P("i", "scalar", 0),), device, "The i-th GPU if the framework sees one, else the CPU.", False, "device",
           passes_values=False),
    OpSpec("try_all_gpus", (), devices, "Every GPU the framework sees, or the CPU alone when it sees none.", False, "device",
           passes_values=False),
    OpSpec("device", (X,), device, "The device x lives on.", False, "device", function=False, passes_values=False),
    OpSpec("to_device", (X, P("device", "device")), copy_to, "A copy of x on the device (gradients flow back to x).",
           category="device"),
    # losses
    OpSpec("cross_entropy", (P("logits", "tensor"), P("labels", "tensor")), cross_entropy,
           "Mean softmax cross-entropy of logits [n, k] against integer labels [n].", category="loss",
                  index_of=("labels", "logits", -1), nondiff=("labels",)),
    OpSpec("squared_loss", (P("y_hat", "tensor"), P("y", "tensor")), squared_loss,
           "Mean squared error: mean((y_hat - y) ** 2).", category="loss"),
]}

# DSL spelling -> op name, for free functions and for methods (`x.sum()` binds x to the first param).
FUNCTIONS: dict[str, str] = {name: name for name, s in SPECS.items() if s.function}
FUNCTIONS.update({"cast": "astype"})
METHODS: dict[str, str] = {name: name for name, s in SPECS.items() if s.method}
ATTRIBUTES: dict[str, str] = {"T": "transpose", "shape": "shape", "device": "device"}
