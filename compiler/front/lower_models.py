"""Lowering of `model` blocks, layers, losses, optimizers, data sets and `train(...)` to IR."""
from __future__ import annotations

import dataclasses
from typing import Any

from d2lc.front import ast as A
from d2lc.front.lower_base import LowererBase, Scope, Symbol
from d2lc.front.lower_params import trainable_flag
from d2lc.front.lower_optim import is_optimizer, lower_optimizer_call
from d2lc.front.lower_lists import CHAIN_TYPE, ITEM_TYPE, ListBuilder, apply_item, apply_steps, is_append, is_list_start
from d2lc.core import ir
from d2lc.core.ir import static_value
from d2lc.core.diagnostics import DiagnosticBag, Loc, did_you_mean
from d2lc.core.layers import DATASETS, INIT_KEYWORDS, INITS, LAYERS, LOSSES, OPTIMIZERS, SCHEDULES, unknown_window
from d2lc.core.ops import REQUIRED, P
from d2lc.core.plots import PLOTS
from d2lc.core.types import ANY, DEFAULT_FLOAT, FLOAT, INT, AnyType, DataType, LayerType, ModelType, OpaqueType, ScalarType, SeqType, ShapeError, TensorType, Type

MODEL_BUILTINS = set(LAYERS) | set(OPTIMIZERS) | set(SCHEDULES) | set(DATASETS) | set(PLOTS) | {"param", "train"}


def bind(lw: LowererBase, params: tuple[P, ...], e: A.Call, shown: str, skip_kw: tuple[str, ...] = (),
         hint: str | None = None) -> dict[str, Any] | None:
    """Bind a call's arguments to named params; reports arity and keyword errors (with `hint`, if given)."""
    names = [p.name for p in params]
    if len(e.args) > len(params):
        lw.error(e.loc, f"`{shown}` takes at most {len(params)} positional argument{'s' * (len(params) != 1)}, got {len(e.args)}",
                 expected=f"{shown}({', '.join(names)})", hint=hint)
        return None
    out: dict[str, Any] = {p.name: lw.expr(a) for p, a in zip(params, e.args)}
    for kw in e.kwargs:
        if kw.name in skip_kw:
            continue
        if kw.name not in names:
            lw.error(kw.loc, f"`{shown}` has no parameter `{kw.name}`", expected=f"one of: {', '.join(names) or '(none)'}",
                     hint=did_you_mean(kw.name, names) or hint)
            return None
        out[kw.name] = lw.expr(kw.value)
    for p in params:
        if p.name not in out:
            if p.default is REQUIRED:
                lw.error(e.loc, f"`{shown}` is missing its argument `{p.name}`", expected=f"{shown}({', '.join(names)})", hint=hint)
                return None
            out[p.name] = None
    return out


INIT_EXPECTED = "normal(mean, std), uniform(low, high), zeros, ones, xavier or constant(v)"
INIT_EXAMPLES = {"normal": "normal(0.0, 0.01)", "uniform": "uniform(-0.1, 0.1)", "constant": "constant(1.0)"}
_INIT_LAYERS = [k for k, spec in LAYERS.items() if spec.inits]
INIT_LAYERS = ", ".join(_INIT_LAYERS[:-1]) + " or " + _INIT_LAYERS[-1]  # "Linear, Conv2d or Embedding"


def lower_init(lw: LowererBase, node: A.Node | None, role: str = "weight") -> ir.Init | None:
    """An initialiser expression (`normal(0.0, 0.01)`, `zeros`, ...) for a weight or a bias, checked."""
    if node is None:
        return None
    kind = node.id if isinstance(node, A.Name) else node.func.id if isinstance(node, A.Call) and isinstance(node.func, A.Name) else None
    if kind not in INITS:
        lw.error(node.loc, "unknown initialiser", expected=INIT_EXPECTED,
                 hint=did_you_mean(kind or "", INITS) or "write one of these, e.g. normal(0.0, 0.01) or zeros")
        return None
    shown = f"{kind}({', '.join(INITS[kind])})" if INITS[kind] else kind
    if isinstance(node, A.Name) and INITS[kind]:
        lw.error(node.loc, f"the initialiser `{kind}` needs its arguments", expected=shown, hint=f"call it, e.g. {INIT_EXAMPLES[kind]}")
        return None
    if kind == "xavier" and role == "bias":
        lw.error(node.loc, "`xavier` cannot initialise a bias", expected="normal(mean, std), uniform(low, high), zeros, ones or constant(v)",
                 hint="xavier scales by a weight's numbers of inputs and outputs; a bias has neither")
        return None
    args: dict[str, Any] = {}
    if isinstance(node, A.Call):
        bound = bind(lw, tuple(P(n, "scalar") for n in INITS[kind]), node, kind,
                     hint=f"e.g. {INIT_EXAMPLES[kind]}" if kind in INIT_EXAMPLES else f"write `{kind}` without arguments")
        if bound is None:
            return None
        args = bound
    if not all(_numeric_arg(lw, kind, name, v) for name, v in args.items()):
        return None
    return ir.Init(kind, args, node.loc) if _sensible(lw, ir.Init(kind, args, node.loc)) else None


def _numeric_arg(lw: LowererBase, kind: str, name: str, v: ir.Expr) -> bool:
    if isinstance(v.type, AnyType) or isinstance(v.type, ScalarType) and v.type.kind in ("int", "float"):
        return True
    lw.error(v.loc, f"`{kind}`'s argument `{name}` must be a number, got {v.type}", expected=f"{kind}({', '.join(INITS[kind])}) with numeric arguments",
             hint="write a literal or a numeric hyperparameter")
    return False


def _sensible(lw: LowererBase, init: ir.Init) -> bool:
    """Static checks of an initialiser's arguments: a positive standard deviation, low < high."""
    std = static_value(init.args.get("std"))
    if init.kind == "normal" and isinstance(std, (int, float)) and std <= 0:
        lw.error(init.args["std"].loc, f"the standard deviation of `normal` must be positive, got {std}", expected="normal(mean, std) with std > 0",
                 hint="for a fixed value use constant(v)")
        return False
    low, high = static_value(init.args.get("low")), static_value(init.args.get("high"))
    if init.kind == "uniform" and isinstance(low, (int, float)) and isinstance(high, (int, float)) and low >= high:
        lw.error(init.loc, f"`uniform` needs low < high, got uniform({low}, {high})", expected="uniform(low, high) with low < high",
                 hint="the lower bound comes first")
        return False
    return True


LIST_TYPE = LayerType("list")


def lower_layer(lw: LowererBase, e: A.Call) -> ir.Expr:
    kind = e.func.id  # type: ignore[attr-defined]
    spec = LAYERS[kind]
    if kind == "Sequential":
        children = []
        args = e.args[0].items if len(e.args) == 1 and isinstance(e.args[0], A.ListLit) else e.args  # Sequential([a, b])
        for a in args:
            c = lw.expr(a.value if isinstance(a, A.Starred) else a)
            children.append(c)
            if c.type == LIST_TYPE:
                continue
            if isinstance(a, A.Starred):
                lw.error(a.loc, f"`*` unpacks a layer list, got {c.type}", expected="Sequential(*blocks) with blocks = [] in the model body",
                         hint="pass single layers without `*`")
            elif not isinstance(c.type, (LayerType, ModelType, AnyType)) or c.type in (ITEM_TYPE, CHAIN_TYPE):
                lw.error(c.loc, f"`Sequential` takes layers, got {c.type}", expected="layers such as Linear(10) or ReLU()")
        lists = [c for c in children if c.type == LIST_TYPE]
        held = [c for c in children if c.type != LIST_TYPE] + [st for c in lists for st in getattr(lw.scope.lookup(c.name), "layer").steps]
        if not held and not (lists and getattr(getattr(lw, "layer_lists", None), "failed", False)):  # (after an error in a loop: it says why)
            lw.error(e.loc, "`Sequential` needs at least one layer", expected="Sequential(Linear(10), ReLU()) or Sequential(*blocks) with blocks appended to",
                     hint="flax and Keras have no empty Sequential; leave the member out")
        return ir.Layer(LayerType(kind), e.loc, kind, {}, children)
    stated = [kw for kw in e.kwargs if kw.name in INIT_KEYWORDS]
    args = bind(lw, spec.params, e, kind, skip_kw=tuple(INIT_KEYWORDS))
    if args is None:
        return ir.Const(ANY, e.loc, None)
    if spec.gates:
        _recurrent_args(lw, kind, args)
    inits: dict[str, ir.Init] = {}
    for kw in stated:
        role = INIT_KEYWORDS[kw.name]
        if _init_allowed(lw, kind, args, kw, role):
            init = lower_init(lw, kw.value, role)
            if init is not None:
                inits[role] = init
    return ir.Layer(LayerType(kind), e.loc, kind, args, [], inits.get("weight"), inits.get("bias"))


def _recurrent_args(lw: LowererBase, kind: str, args: dict[str, Any]) -> bool:
    """`bidirectional=` is True or False written out; `num_layers=` an int of at least 1."""
    bi, layers = args.get("bidirectional"), args.get("num_layers")
    if bi is not None and not isinstance(static_value(bi), bool):
        lw.error(bi.loc, f"`bidirectional=` of `{kind}` must be True or False", expected="True or False written out",
                 hint="the layer's parameters and output size depend on it; write it in the model body")
        return False
    n = static_value(layers) if layers is not None else 1
    if layers is not None and not (isinstance(layers.type, (ScalarType, AnyType)) and getattr(layers.type, "kind", "int") == "int") \
            or isinstance(n, int) and n < 1:
        lw.error(layers.loc, f"`num_layers=` of `{kind}` must be an int of at least 1", expected="num_layers=2, or an int hyperparameter",
                 hint="layers are stacked: each reads every step's state of the one below")
        return False
    return True


def _init_allowed(lw: LowererBase, kind: str, args: dict[str, Any], kw: A.Keyword, role: str) -> bool:
    """Whether `kind` takes the initialiser keyword `kw`; reports why not."""
    spec = LAYERS[kind]
    if not spec.has_params:
        lw.error(kw.loc, f"`{kind}` has no parameters to initialise", expected=f"{kind}(...) without {kw.name}=",
                 hint=f"stated initialisers are for {INIT_LAYERS}")
    elif not spec.inits:
        lw.error(kw.loc, f"`{kw.name}=` on the built-in `{kind}` is not supported: it keeps each framework's default initialiser",
                 expected=f"{kw.name}= on {INIT_LAYERS}", hint="declare the parameters with param(shape, init=...) in a model from scratch")
    elif role not in spec.inits:
        lw.error(kw.loc, f"`{kind}` has no bias to initialise", expected=f"{kind}(..., init=...) without {kw.name}=",
                 hint=f"drop `{kw.name}=`; `init=` initialises the layer's only parameter")
    elif role == "bias" and isinstance(args.get("bias"), ir.Const) and args["bias"].value is False:
        lw.error(kw.loc, f"`{kind}(..., bias=False)` has no bias to initialise", expected=f"{kw.name}= only on a layer with a bias",
                 hint=f"drop `{kw.name}=`, or drop `bias=False`")
    else:
        return True
    return False


# The input axis whose size a layer's parameters fix (Conv2d's input channels, Linear's input features).
_INPUT_AXIS = {"Linear": -1, "Conv2d": 1, "BatchNorm1d": 1, "BatchNorm2d": 1}


def _member_layer(lw: LowererBase, layer: ir.Expr | None) -> ir.Expr | None:
    """A member named inside a member Sequential (`shared` in Sequential(..., shared, ...)) stands for its layer."""
    if isinstance(layer, ir.Var) and lw.current_model is not None:
        member = next((m for m in lw.current_model.members if m.name == layer.name), None)
        if member is not None and isinstance(member.value, (ir.Layer, ir.LayerList, ir.NewModel)):
            return member.value
    return layer


def _check_input_size(lw: LowererBase, layer: ir.Layer, x: TensorType, loc) -> None:
    """One layer object applied twice must see the same input size: its parameters were made for the first."""
    axis = _INPUT_AXIS.get(layer.kind)
    if axis is None or x.rank == 0 or not -x.rank <= axis < x.rank or not isinstance(x.shape[axis], int):
        return
    seen = lw.layer_inputs.setdefault(id(layer), (x.shape[axis], loc, layer))
    if seen[0] != x.shape[axis]:
        what = "input channels" if layer.kind == "Conv2d" else "channels" if layer.kind.startswith("BatchNorm") else "input features"
        lw.error(loc, f"this `{layer.kind}` was first applied to {seen[0]} {what} (line {seen[1].line}), here to {x.shape[axis]}",
                 expected=f"{seen[0]} {what}, as at its first use",
                 hint="a layer's parameters are made for the input size of its first use; declare a second layer for the other input")


def apply_layer(lw: LowererBase, layer: ir.Expr | None, x: ir.Expr, loc) -> Type:
    """The output type of applying a layer (tree) to x."""
    layer = _member_layer(lw, layer)
    if isinstance(layer, ir.NewModel) and isinstance(x.type, TensorType):
        return _apply_model(lw, layer, x.type, loc)
    if isinstance(layer, ir.LayerList) and isinstance(x.type, TensorType):
        return apply_steps(lw, layer.steps, x.type, loc, lambda v, t, at: apply_layer(lw, v, ir.Var(t, at, "_"), at))
    if not isinstance(layer, ir.Layer) or not isinstance(x.type, TensorType):
        return ANY
    t: Type = x.type
    if layer.kind == "Sequential":
        for child in layer.children:
            t = apply_layer(lw, child, ir.Var(t, loc, "_"), loc) if isinstance(t, TensorType) else ANY
        return t
    static = {k: static_value(v) for k, v in layer.args.items()}
    if layer.kind == "Flatten" and x.type.rank == 4:  # the order a Linear after it reads (lower_params)
        lw.layer_inputs.setdefault(id(layer), (x.type.shape[1:], loc, layer))
    _check_input_size(lw, layer, x.type, loc)
    try:
        return unknown_window(layer.kind, layer.args, static, LAYERS[layer.kind].shape(static, x.type))
    except ShapeError as exc:
        lw.error(loc, f"`{layer.kind}`: {exc}", expected=exc.expected, hint=exc.hint)
        return ANY


def _apply_model(lw: LowererBase, n: ir.NewModel, x: TensorType, loc) -> Type:
    """A model instance inside Sequential or a layer list, applied to an input of type x."""
    model = lw.models.get(n.model)
    if model is None or model.forward is None:
        return ANY
    want = model.forward.params[0].type if len(model.forward.params) == 1 else None
    if isinstance(want, TensorType) and (want.rank != x.rank or any(  # a size not known here may not be the one it takes
            isinstance(a, int) and b != a for a, b in zip(want.shape, x.shape))):
        lw.error(loc, f"`{n.model}`'s forward takes {want}, here it gets {x}", expected=str(want),
                 hint=f"a size written as a number in `{n.model}`'s forward is the only size it takes; name the axis (X: f32[b, c, h, w]) "
                      "to take any")
        return ANY
    probed = probe_forward(lw, n.model, [ir.Var(x, loc, "_")], loc)
    return probed if probed is not None else model.forward.result


def lower_model(lw: LowererBase, s: A.ModelDef) -> ir.Stmt | None:
    hparams: list[ir.Param] = []
    mscope = Scope(parent=lw.globals)
    name_loc = Loc(s.loc.file, s.loc.line, s.loc.col, s.loc.col + len(s.name))  # a model's loc is its name's
    if lw.reserved_word(s.name, name_loc):
        return None
    if s.name in MODEL_BUILTINS | set(LOSSES) | set(INITS):
        what = "layer" if s.name in LAYERS else "optimizer" if s.name in OPTIMIZERS else "data set" if s.name in DATASETS \
            else "loss" if s.name in LOSSES else "initialiser" if s.name in INITS else "figure" if s.name in PLOTS else "name"
        lw.error(name_loc, f"a model cannot be named `{s.name}`, the DSL's built-in {what}",
                 expected="a name that is not a built-in", hint=f"call it `My{s.name}` or another name of its own")
        return None
    for p in s.params:
        lw.reserved_word(p.name, p.loc)
        default = lw.expr(p.default) if p.default is not None else None
        ptype = lw.ann_type(p.ann, default) if p.ann else _default_type(default)
        hparams.append(ir.Param(p.name, ptype, default, p.loc))
        mscope.symbols[p.name] = Symbol(ptype)
    members: list[ir.Member] = []
    forward: ir.FuncDef | None = None
    mdef = ir.ModelDef(s.loc, s.name, hparams, members, None, save=lw.save_marker(s))  # type: ignore[arg-type]
    lw.models[s.name] = mdef
    lw.model_asts[s.name] = s
    outer, lw.scope = lw.scope, mscope
    lw.current_model = mdef
    lists = ListBuilder(lw, mdef, mscope)
    try:
        for stmt in s.body:
            if is_list_start(stmt):
                lists.start(stmt)  # type: ignore[arg-type]
            elif is_append(stmt) or isinstance(stmt, A.For):
                before = len(lw.diags.items)
                lists.statement(stmt, lists.top)
                lists.failed |= len(lw.diags.items) > before
            elif isinstance(stmt, A.Assign) and isinstance(stmt.target, A.Name):
                lw.reserved_word(stmt.target.id, stmt.target.loc)
                value = lw.expr(stmt.value)
                lists.close_read(value, stmt.loc, stmt.target.id)
                members.append(ir.Member(stmt.target.id, value, stmt.loc))
                mscope.symbols[stmt.target.id] = Symbol(value.type)
            elif isinstance(stmt, A.FuncDef) and stmt.name == "forward":
                lists.close_all(stmt.loc)
                forward = lw.stmt_FuncDef(stmt, scope_parent=mscope, register=False)
            elif isinstance(stmt, A.FuncDef):
                lw.error(stmt.loc, f"a model has one method, `forward`; got `{stmt.name}`", hint="write helpers as top-level functions")
            elif isinstance(stmt, A.Pass):
                continue
            else:
                lw.error(stmt.loc, "a model body holds member assignments, layer lists and `def forward`",
                         expected="name = Layer(...), name = param(shape, init=...), blocks = [] with `for` loops of blocks.append(...), "
                                  "or def forward(...)")
    finally:
        lw.scope = outer
        lw.current_model = None
    if forward is None:
        lw.error(s.loc, f"model `{s.name}` has no `forward`", expected="def forward(X): ... inside the model")
        return None
    mdef.forward = forward
    lw.globals.symbols[s.name] = Symbol(ModelType(s.name, is_class=True))
    return mdef


def lower_call(lw: LowererBase, e: A.Call, name: str) -> ir.Expr | None:
    """Calls of model-related built-ins, model classes and instances; None when `name` is none of them."""
    if name in LAYERS:
        return lower_layer(lw, e)
    if name == "param":
        if lw.current_model is None:
            return lw.error(e.loc, "`param(...)` declares a model parameter; use it inside a `model` block",
                            hint="for a plain tensor use normal(...) or zeros(...)")
        init_kw, trainable_kw = (next((kw for kw in e.kwargs if kw.name == k), None) for k in ("init", "trainable"))
        args = bind(lw, (P("shape", "shape"),), e, "param", skip_kw=("init", "trainable"))
        if args is None:
            return ir.Const(ANY, e.loc, None)
        init = lower_init(lw, init_kw.value) if init_kw else ir.Init("normal", {"mean": None, "std": ir.Const(FLOAT, e.loc, 0.01)})
        shape = args["shape"]
        sv = static_value(shape)
        dims = tuple(d if isinstance(d, int) else None for d in (sv if isinstance(sv, tuple) else (sv,))) \
            if sv is not None else tuple(None for _ in getattr(shape.type, "items", (None,)))
        return ir.ParamDecl(TensorType(DEFAULT_FLOAT, dims), e.loc, shape, init, trainable_flag(lw, trainable_kw))
    if name in OPTIMIZERS or name in SCHEDULES:
        return lower_optimizer_call(lw, e, name, bind)
    if name in DATASETS:
        args = bind(lw, DATASETS[name], e, name)
        return ir.Construct(OpaqueType("data"), e.loc, name, args) if args is not None else ir.Const(ANY, e.loc, None)
    if name in lw.models:
        mdef = lw.models[name]
        args = [lw.expr(a) for a in e.args]
        kwargs = {kw.name: lw.expr(kw.value) for kw in e.kwargs}
        names = [p.name for p in mdef.hparams]
        for k in kwargs:
            if k not in names:
                lw.error(e.loc, f"model `{name}` has no hyperparameter `{k}`", hint=did_you_mean(k, names))
        required = [p for p in mdef.hparams if p.default is None]
        if len(args) > len(names) or len(args) + len([k for k in kwargs if k in names]) < len(required):
            return lw.error(e.loc, f"`{name}` takes {len(names)} hyperparameter{'s' * (len(names) != 1)} ({', '.join(names)}), got {len(args) + len(kwargs)}",
                            expected=f"{name}({', '.join(names)})")
        given = [*zip(mdef.hparams, args), *((p, kwargs[p.name]) for p in mdef.hparams if p.name in kwargs)]
        for p, v in given:  # a tuple hyperparameter's structure is its default's: the model's loops were checked for it
            if isinstance(p.type, SeqType) and not isinstance(v.type, AnyType) and v.type != p.type:
                lw.error(v.loc, f"`{p.name}` of `{name}` is {p.type}, got {v.type}", expected=f"a value of type {p.type}, like its default",
                         hint="a tuple hyperparameter keeps its default's structure (the number of items and their kinds); "
                              "change the values, or the default")
        return ir.NewModel(ModelType(name), e.loc, name, args, kwargs)
    return None


def lower_apply(lw: LowererBase, e: A.Call, sym_type: Type, name: str, layer: ir.Layer | None = None) -> ir.Expr:
    """`net(X)`: a member layer inside forward, a built-in layer held by a name outside models, or a model instance."""
    args = [lw.expr(a) for a in e.args]
    if isinstance(sym_type, LayerType):
        member = next((m for m in (lw.current_model.members if lw.current_model else []) if m.name == name), None)
        if len(args) != 1:
            return lw.error(e.loc, f"a layer takes one input, got {len(args)}")
        if sym_type == CHAIN_TYPE and isinstance(layer, ir.LayerList):  # `X = blk(X)`: every element in turn, checked
            return ir.ApplyLayer(apply_steps(lw, layer.steps, args[0].type, e.loc, lambda v, t, at: apply_layer(lw, v, ir.Var(t, at, "_"), at))
                                 if isinstance(args[0].type, TensorType) else ANY, e.loc, name, args)
        if sym_type == ITEM_TYPE and isinstance(layer, ir.LayerList):  # `blk(X)` in `for blk in blocks:`
            return ir.ApplyLayer(apply_item(lw, layer, args[0].type, e.loc, lambda v, t, at: apply_layer(lw, v, ir.Var(t, at, "_"), at)),
                                 e.loc, name, args)
        if sym_type == LIST_TYPE:
            return lw.error(e.loc, f"`{name}` is a list of layers; it cannot be applied", expected=f"Sequential(*{name}) as a member, "
                            f"or `for blk in {name}: X = blk(X)` in forward", hint="a list holds layers; Sequential applies them one after another")
        if member is None and lw.current_model is None:  # a layer called like a model: same layouts, initialisation
            t = apply_layer(lw, layer, args[0], e.loc)
            return ir.CallModel(t, e.loc, ir.Var(sym_type, e.func.loc, name), args, layer)
        t = apply_layer(lw, member.value if member else None, args[0], e.loc)
        return ir.ApplyLayer(t, e.loc, name, args)
    model = lw.models.get(sym_type.name)
    result: Type = model.forward.result if model and model.forward else ANY
    probed = probe_forward(lw, sym_type.name, args, e.loc) if model is not None else None
    if probed is not None:
        result = probed
    if lw.current_model is not None and any(m.name == name for m in lw.current_model.members):
        return ir.ApplyLayer(result, e.loc, name, args)
    return ir.CallModel(result, e.loc, ir.Var(sym_type, e.func.loc, name), args)


def _default_type(default: ir.Expr | None) -> Type:
    """An unannotated hyperparameter is typed by its default when that is a number (`h=4` is an int)."""
    t = default.type if default is not None else ANY
    return t if isinstance(t, ScalarType) and t.kind in ("int", "float", "bool") else ANY


def probe_forward(lw: LowererBase, name: str, args: list[ir.Expr], loc) -> Type | None:
    """Shape checking across model boundaries: lower model `name` again with its forward's symbolic input
    dimensions bound to the sizes of this call, and report the shape errors that only these sizes cause (at their
    own location, naming this call). The output type for these inputs, or None when nothing is bound."""
    s = lw.model_asts.get(name)
    fwd = next((st for st in s.body if isinstance(st, A.FuncDef) and st.name == "forward"), None) if s else None
    if fwd is None or lw.probe_depth >= 8 or len(args) != len(fwd.params):
        return None
    bound: dict[str, int] = {}
    for p, a in zip(fwd.params, args):
        if p.ann is not None and p.ann.dims and isinstance(a.type, TensorType) and a.type.rank == len(p.ann.dims):
            bound.update({d: v for d, v in zip(p.ann.dims, a.type.shape) if isinstance(d, str) and isinstance(v, int)})
    if not bound:
        return None
    params = [dataclasses.replace(p, ann=dataclasses.replace(p.ann, dims=[bound.get(d, d) if isinstance(d, str) else d for d in p.ann.dims]))
              if p.ann is not None and p.ann.dims else p for p in fwd.params]
    probe = dataclasses.replace(s, body=[dataclasses.replace(st, params=params, returns=None) if st is fwd else st for st in s.body])
    saved = (lw.diags, lw.scope, lw.current_model, dict(lw.models), dict(lw.globals.symbols), dict(lw.model_asts), lw.layer_inputs)
    lw.diags, lw.layer_inputs = DiagnosticBag(), {}
    lw.probe_depth += 1
    try:
        mdef = lower_model(lw, probe)
        found = lw.diags.items
    finally:
        lw.probe_depth -= 1
        lw.diags, lw.scope, lw.current_model = saved[0], saved[1], saved[2]
        lw.models.clear(), lw.models.update(saved[3])
        lw.globals.symbols.clear(), lw.globals.symbols.update(saved[4])
        lw.model_asts.clear(), lw.model_asts.update(saved[5])
        lw.layer_inputs = saved[6]
    known = {(d.loc, d.message) for d in lw.diags.items}
    for d in found:
        if (d.loc, d.message) not in known:
            shown = ", ".join(f"{k}={v}" for k, v in bound.items())
            lw.error(d.loc, d.message, d.expected, f"with the sizes of the call at line {loc.line} ({shown})" + (f"; {d.hint}" if d.hint else ""))
            known.add((d.loc, d.message))
    if found or mdef is None:
        return ANY
    return mdef.forward.result


def lower_train(lw: LowererBase, e: A.Call) -> ir.Stmt | None:
    params = (P("net", "model"), P("data", "data"), P("loss", "loss"), P("optimizer", "optimizer"), P("epochs", "scalar", 10),
              P("clip", "scalar", None))
    names = [p.name for p in params]
    if len(e.args) > 2:
        lw.error(e.loc, "`train` takes net and data positionally; name the rest", expected="train(net, data, loss=..., optimizer=..., epochs=...)")
        return None
    raw: dict[str, A.Node] = dict(zip(names, e.args))
    for kw in e.kwargs:
        if kw.name not in names:
            lw.error(kw.loc, f"`train` has no parameter `{kw.name}`", expected=f"one of: {', '.join(names)}", hint=did_you_mean(kw.name, names))
            return None
        raw[kw.name] = kw.value
    for p in params:
        if p.name not in raw and p.default is REQUIRED:
            lw.error(e.loc, f"`train` is missing `{p.name}`", expected="train(net, data, loss=..., optimizer=..., epochs=...)")
            return None
    net = lw.expr(raw["net"])
    data = lw.expr(raw["data"])
    loss_node = raw["loss"]
    if not (isinstance(loss_node, A.Name) and loss_node.id in LOSSES):
        lw.error(loss_node.loc, "unknown loss", expected=" or ".join(sorted(LOSSES)),
                 hint=did_you_mean(getattr(loss_node, "id", ""), LOSSES))
        return None
    loss = ir.Construct(OpaqueType("loss"), loss_node.loc, loss_node.id, {})
    opt = lw.expr(raw["optimizer"])
    if not isinstance(net.type, ModelType) or net.type.is_class:
        lw.error(net.loc, f"`train` needs a model instance, got {net.type}", expected="net = MyModel(...); train(net, ...)")
        return None
    if not (isinstance(data.type, OpaqueType) and data.type.kind == "data"):
        lw.error(data.loc, f"`train` needs a data set, got {data.type}", expected="fashion_mnist(...) or synthetic_regression(...)")
        return None
    if not is_optimizer(lw, opt):
        return None
    epochs = lw.expr(raw["epochs"]) if "epochs" in raw else ir.Const(INT, e.loc, 10)
    clip = lw.expr(raw["clip"]) if "clip" in raw else None
    if not _data_fits(lw, lw.models.get(net.type.name), data, loss):
        return None
    return ir.Train(e.loc, net, data, loss, opt, epochs, clip, lw.models.get(net.type.name))


def _data_fits(lw: LowererBase, model: ir.ModelDef | None, data: ir.Expr, loss: ir.Construct) -> bool:
    """A data set whose batches' types are known must suit the model's annotated input and the loss."""
    t = data.type
    if not isinstance(t, DataType):
        return True
    x = model.forward.params[0].type if model is not None and model.forward is not None and model.forward.params else None
    ex = t.examples
    if isinstance(x, TensorType) and ex is not None and (x.rank != ex.rank or x.dtype != ex.dtype or any(
            isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(x.shape[1:], ex.shape[1:]))):
        lw.error(data.loc, f"this data set's examples are {ex}, but `{model.name}`'s forward takes {model.forward.params[0].name}: {x}",
                 expected=f"examples {x} (any batch size)",
                 hint="make the examples match forward's annotation (load_array's X, fashion_mnist's resize=), or change the annotation")
        return False
    y = t.labels
    if y is not None and loss.kind == "cross_entropy" and not y.dtype.is_int:
        lw.error(data.loc, f"`cross_entropy` needs integer class labels, but this data set's labels are {y}", expected="int64 labels [n]",
                 hint="cast the labels with `.astype(int64)`, or use `loss=squared_loss` for real-valued targets")
        return False
    if y is not None and loss.kind == "squared_loss" and not y.dtype.is_float:
        lw.error(data.loc, f"`squared_loss` needs real-valued targets, but this data set's labels are {y}", expected="float32 targets [n, k]",
                 hint="cast the targets with `.astype(float32)`, or use `loss=cross_entropy` for class labels")
        return False
    return True

