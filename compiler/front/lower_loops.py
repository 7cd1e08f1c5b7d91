"""Hand-written training loops: an optimizer bound to a model (`opt = SGD(net, lr=0.1)`) and the loop over a data
set's training batches that steps it (`for X, y in data.train: ... opt.step(loss)`), checked so that every target can
differentiate the loop's body soundly (docs/dsl.md, "Training loops")."""
from __future__ import annotations

from d2lc.core import ir
from d2lc.core.layers import LAYERS
from d2lc.core.ops import SPECS
from d2lc.core.types import ANY, AnyType, ModelType, OpaqueType, TensorType
from d2lc.front import ast as A
from d2lc.front.lower_base import LowererBase, Symbol

BOUND = OpaqueType("bound optimizer")
STEP = "opt.step(loss) as the last statement of `for X, y in data.train:`"


def bound_model(lw: LowererBase, e: A.Call) -> A.Name | None:
    """The model instance an optimizer call is bound to (`SGD(net, lr=0.1)`: its first positional argument), if any."""
    if not e.args or not isinstance(e.args[0], A.Name):
        return None
    sym = lw.scope.lookup(e.args[0].id)
    return e.args[0] if sym is not None and isinstance(sym.type, ModelType) and not sym.type.is_class else None


def lower_bound_optimizer(lw: LowererBase, e: A.Call, net: A.Name, opt: ir.Expr) -> ir.Expr:
    """`SGD(net, lr=0.1)`: the optimizer `opt` (lowered from the call without `net`) bound to `net`'s parameters."""
    if not isinstance(opt, ir.Construct):
        return opt  # its error is reported
    if lw.scope.func is not None or lw.current_model is not None or lw._in_loop:
        return lw.error(e.loc, "an optimizer bound to a model is made at the top level, outside loops and branches",
                        expected=f"opt = {opt.kind}({net.id}, ...) at the top level of the chapter",
                        hint="make it once, before the training loop")
    model = lw.expr(net)
    return ir.BoundOptimizer(BOUND, e.loc, opt.kind, opt.args, net=model if isinstance(model, ir.Var) else None)


def is_step_loop(lw: LowererBase, s: A.For) -> bool:
    """`for X, y in data.train:` over a data set."""
    it = s.iter
    if not (isinstance(it, A.Attribute) and it.attr == "train" and isinstance(it.value, A.Name)):
        return False
    sym = lw.scope.lookup(it.value.id)
    return sym is not None and isinstance(sym.type, OpaqueType) and sym.type.kind == "data"


def step_call(lw: LowererBase, node: A.Node) -> tuple[str, A.Call] | None:
    """`opt.step(loss)` on a bound optimizer held by a name: (that name, the call)."""
    if not (isinstance(node, A.ExprStmt) and isinstance(node.value, A.Call) and isinstance(node.value.func, A.Attribute)
            and node.value.func.attr == "step" and isinstance(node.value.func.value, A.Name)):
        return None
    sym = lw.scope.lookup(node.value.func.value.id)
    return (node.value.func.value.id, node.value) if sym is not None and sym.type == BOUND else None


def stray_step(lw: LowererBase, node: A.ExprStmt) -> ir.Stmt | None:
    """An `opt.step(loss)` anywhere but last in a loop over `data.train`: an error (None when it is no step)."""
    if step_call(lw, node) is None:
        return None
    lw.error(node.loc, "`opt.step(loss)` is the last statement of a loop over a data set's training batches",
             expected=STEP, hint="compute the loss from the batch inside `for X, y in data.train:`, then step")
    return ir.Pass(node.loc)


def lower_step_loop(lw: LowererBase, s: A.For) -> ir.Stmt | None:
    """`for X, y in data.train: <the loss's statements>; opt.step(loss)` as a StepLoop, every check done here."""
    it = s.iter
    data = lw.expr(it.value)
    if lw.scope.func is not None or lw.current_model is not None:
        lw.error(s.loc, "a training loop is written at the top level of a chapter", expected=STEP,
                 hint="move the loop out of the `def`")
        return None
    if len(s.targets) != 2:
        lw.error(s.loc, "a loop over a data set's training batches unpacks each batch into examples and labels",
                 expected="for X, y in data.train:", hint="name both: `for X, y in data.train:`")
        return None
    step = step_call(lw, s.body[-1]) if s.body else None
    if step is None:
        lw.error(s.loc, "a loop over a data set's training batches ends with the optimizer's step", expected=STEP,
                 hint="make an optimizer bound to the model first: `opt = SGD(net, lr=0.1)`")
        return None
    opt_name, call = step
    dt = data.type
    types = [getattr(dt, "examples", None) or ANY, getattr(dt, "labels", None) or ANY]
    if isinstance(types[0], TensorType) and types[0].rank == 4:
        lw.error(it.loc, "a hand-written loop over image batches is not supported yet (the channels-last targets load "
                 "them NHWC)", expected="a data set of [batch, features] examples",
                 hint=f"train an image model with `train(net, {it.value.id}, loss=..., optimizer=...)`")
        return None
    for name, t in zip(s.targets, types):
        if not lw._bindable(name, s.loc):
            return None
        lw.scope.symbols[name] = Symbol(t)
    lw._in_loop += 1
    try:
        body = lw.block(s.body[:-1])
        if len(call.args) != 1 or call.kwargs:
            lw.error(call.loc, "`opt.step` takes the loss, one number", expected="opt.step(loss)",
                     hint="compute the loss first, e.g. `l = squared_loss(net(X), y)`")
            return None
        loss = lw.expr(call.args[0])
    finally:
        lw._in_loop -= 1
    bound = _bound_of(body, opt_name, lw)
    if bound is None or bound.net is None:
        return None
    ok = _body_is_differentiable(lw, body, loss, bound.net.name)
    model = lw.models.get(bound.net.type.name) if isinstance(bound.net.type, ModelType) else None
    if ok and model is not None and _mode_dependent(lw, model):
        lw.error(bound.net.loc, f"`{model.name}` acts differently in training (dropout or batch normalisation); a "
                 "hand-written loop trains models without such layers", expected="a model without Dropout and BatchNorm",
                 hint=f"train it with `train({bound.net.name}, data, loss=..., optimizer=...)`")
        ok = False
    if not ok:
        return None
    if not isinstance(loss, ir.Var):  # `opt.step(squared_loss(net(X), y))`: computed with the body, under its recording
        name = next(n for n in (f"loss{i or ''}" for i in range(1000)) if lw.scope.lookup(n) is None)
        body.append(ir.Assign(loss.loc, name, loss))
        loss = ir.Var(loss.type, loss.loc, name)
    # the names the body binds live in JAX's loss function only; the loss itself comes back from each step
    kept = {loss.name}
    for st in body:
        for name in ir.bound_names(st):
            if name not in kept:
                lw.scope.symbols.pop(name, None)
    return ir.StepLoop(s.loc, s.targets[0], data, body, list(s.targets), value=loss, opt=opt_name, net=bound.net,
                       optimizer=bound)


def _bound_of(body: list[ir.Stmt], opt: str, lw: LowererBase) -> ir.BoundOptimizer | None:
    """The BoundOptimizer the top-level name `opt` holds (the lowerer keeps it as the symbol's constant)."""
    return lw.bound_optimizers.get(opt)


def _body_is_differentiable(lw: LowererBase, body: list[ir.Stmt], loss: ir.Expr, net: str) -> bool:
    """The loop's body is assignments that compute the loss from the model's calls: nothing else runs between two
    steps, nothing is drawn at random, and the parameters are reached through the model's calls only."""
    for st in body:
        if not isinstance(st, (ir.Assign, ir.Unpack)):
            lw.error(st.loc, "a training step's body only computes the loss: assignments before `opt.step(loss)`",
                     expected="l = squared_loss(net(X), y)", hint="print or log after the loop, from values it leaves")
            return False
    for e in ir.walk_exprs([*body, loss]):
        if isinstance(e, ir.Op) and e.op in SPECS and SPECS[e.op].category == "random":
            lw.error(e.loc, "a training step's loss draws random numbers", expected="a loss computed from the batch",
                     hint="draw random values before the loop")
            return False
        if isinstance(e, (ir.ParamRef, ir.ParamGrad, ir.Grad, ir.NumParams, ir.ParamsFile, ir.SubLayer)):
            lw.error(e.loc, "a training step's loss reaches the parameters through the model's calls only",
                     expected="a loss computed from net(X)", hint="add a weight penalty to the model's forward")
            return False
        if isinstance(e, ir.CallModel) and isinstance(e.instance, ir.Var) and e.instance.name != net:
            lw.error(e.loc, f"this training step steps `{net}`'s parameters, but calls `{e.instance.name}`",
                     expected=f"a loss computed from {net}(X) only", hint="train each model with its own optimizer")
            return False
    t = loss.type
    if not (isinstance(t, TensorType) and t.rank == 0 and t.dtype.is_float) and not isinstance(t, AnyType):
        lw.error(loss.loc, f"the loss a step minimises is one float number, got {t}", expected="a float32 scalar",
                 hint="reduce it, e.g. `squared_loss(net(X), y)` or `(...).mean()`")
        return False
    calls = any(isinstance(e, ir.CallModel) and isinstance(e.instance, ir.Var) and e.instance.name == net
                for e in ir.walk_exprs([*body, loss]))
    if not calls:
        lw.error(loss.loc, f"this loss is not computed from a call of `{net}`, so the step has no gradient",
                 expected=f"a loss computed from {net}(X)", hint=f"e.g. `l = squared_loss({net}(X), y)`")
        return False
    return True


def _mode_dependent(lw: LowererBase, model: ir.ModelDef, seen: frozenset = frozenset()) -> bool:
    """Whether a model holds (itself or through a submodel) a layer that acts differently in training."""
    for e in ir.walk_exprs([m.value for m in model.members]):
        if isinstance(e, ir.Layer) and e.kind in LAYERS and LAYERS[e.kind].train_dependent:
            return True
        if isinstance(e, ir.NewModel) and e.model in lw.models and e.model not in seen:
            if _mode_dependent(lw, lw.models[e.model], seen | {model.name}):
                return True
    return False


__all__ = ["BOUND", "bound_model", "lower_bound_optimizer", "is_step_loop", "lower_step_loop", "stray_step"]
