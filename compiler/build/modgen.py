"""Plain Python modules (not notebooks) of a chapter's functions, for the equivalence harness."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Collection

from d2lc.core import ir
from d2lc.emit.backend import Backend
from d2lc.emit.errors import EmitError
from d2lc.emit.fmt import render

if TYPE_CHECKING:
    import libcst as cst

    from d2lc.emit.base import Emitter


def testable_functions(module: ir.Module) -> list[ir.FuncDef]:
    """Top-level functions whose every parameter has a declared tensor or scalar type."""
    from d2lc.core.types import AnyType
    out = []
    for s in module.stmts():
        if isinstance(s, ir.FuncDef) and s.params and not any(isinstance(p.type, AnyType) for p in s.params):
            out.append(s)
    return out


def _reads(node) -> set[str]:
    return {e.name for e in ir.walk_exprs(node) if isinstance(e, ir.Var)}


def _free_names(s: ir.Stmt) -> set[str]:
    """Names a function or model reads that it does not bind itself (parameters, locals, members)."""
    if isinstance(s, ir.ModelDef):
        bound = {hp.name for hp in s.hparams} | {m.name for m in s.members}
        return (_free_names(s.forward) | {n for m in s.members for n in _reads(m.value)}) - bound
    if isinstance(s, ir.FuncDef):
        local = {p.name for p in s.params} | {n for st in ir.walk_stmts(s.body) if isinstance(st, (ir.Assign, ir.Unpack, ir.For))
                                              for n in ir.bound_names(st)}
        return _reads(s) - local
    return _reads(s)


def _plain(value: ir.Expr) -> bool:
    """A value a harness module can compute again: no random draws, data sets, layers, models or calls."""
    from d2lc.core.ops import SPECS
    for e in ir.walk_exprs(value):
        if isinstance(e, (ir.Construct, ir.Layer, ir.NewModel, ir.CallModel, ir.CallFunc, ir.Grad, ir.ParamGrad, ir.ApplyLayer)):
            return False
        if isinstance(e, ir.Op) and SPECS.get(e.op) is not None and SPECS[e.op].category == "random":
            return False
    return True


def chapter_globals(module: ir.Module, defs: list) -> list[ir.Assign]:
    """The top-level assignments the functions read (a chapter-level `scale = 3.0`), as a notebook runs them
    before calling: plain values only, each computable from the ones before it; the last assignment of a name wins."""
    top = [s for s in module.stmts() if isinstance(s, ir.Assign)]
    last = {a.name: a for a in top}
    wanted = {n for d in defs for n in _free_names(d)} & set(last)
    chosen: list[ir.Assign] = []
    for a in top:  # in notebook order, keeping an assignment only if what it reads is there already
        if a.name in wanted and last[a.name] is a and _plain(a.value) and _reads(a.value) <= {c.name for c in chosen}:
            chosen.append(a)
    return chosen


def unrecomputed_reads(module: ir.Module, fdef: ir.FuncDef) -> list[str]:
    """The chapter values `fdef` reads (itself or through the functions it calls) that a harness module does not
    compute again (`chapter_globals` keeps plain values only: a random draw, a data set or a trained layer is not)."""
    funcs = {s.name: s for s in module.stmts() if isinstance(s, ir.FuncDef)}
    seen, todo, free = set(), [fdef], set()
    while todo:
        f = todo.pop()
        if f.name in seen:
            continue
        seen.add(f.name)
        free |= _free_names(f)
        todo.extend(funcs[c.func] for c in ir.walk_exprs(f.body) if isinstance(c, ir.CallFunc) and c.func in funcs)
    top = [s for s in module.stmts() if not isinstance(s, (ir.FuncDef, ir.ModelDef))]
    bound = {n for s in ir.walk_stmts(top) for n in ir.bound_names(s)}
    kept = {a.name for a in chapter_globals(module, [funcs[n] for n in seen])}
    return sorted((free & bound) - kept - set(funcs))


def function_module_source(module: ir.Module, backend: Backend, only: Collection[str] | None = None) -> str:
    """Imports, prelude, and every top-level `def` of the module (or just those named in `only`), emitted for `backend`."""
    em = backend.emitter(backend, module)
    defs = [s for s in module.stmts() if isinstance(s, ir.FuncDef) and (only is None or s.name in only)]
    body = []
    for a in chapter_globals(module, defs):
        body.extend(em.stmt(a))
    for d in defs:
        body.extend(em.stmt(d))
    code = render(body)
    setup = em.setup_code(code)
    return (setup + "\n\n\n" if setup else "") + code + "\n"


def model_module_source(module: ir.Module, backend: Backend, model: str, hparams: dict[str, object], loss: str,
                        extra: "Callable[[Emitter], list[cst.BaseStatement]] | None" = None) -> str:
    """A harness module for one model: every model class of the chapter, the backend's harness glue, and
    `d2lc_case_forward / _grads / _sgd / _adam` entry points taking arrays in the backend's layout; `extra` adds
    statements emitted with the same emitter at the end (harness/sametrain.py: the chapter's own `train` call)."""
    from pathlib import Path
    import importlib

    from libcst.helpers import parse_template_module

    em = backend.emitter(backend, module)
    defs = [s for s in module.stmts() if isinstance(s, (ir.ModelDef, ir.FuncDef))]  # models, the functions they call
    body = []
    for a in chapter_globals(module, defs):
        body.extend(em.stmt(a))
    for s in defs:
        body.extend(em.stmt(s))
    package = importlib.import_module(type(em).__module__.rsplit(".", 1)[0])
    glue = (Path(package.__file__).parent / "snippets" / "harness_models.py").read_text(encoding="utf-8")
    import libcst as cst

    args = ", ".join(f"{k}={v!r}" for k, v in hparams.items())
    cases = parse_template_module((CASES + "".join(STEPS_CASE.replace("CHECK", c).replace("OPTIMIZER", n)
                                                   for c, n, _ in harness_optimizers(None) if c != "train"))
                                  .replace("MODEL", model).replace("HPARAMS", args).replace("LOSS", repr(loss))
                                   .replace("TRAIN_STEPS", str(TRAIN_EPOCHS * TRAIN_BATCHES)).replace("STEPS", str(OPTIMIZER_STEPS)))
    loc = next(iter(module.stmts())).loc
    optimizers: list[cst.BaseStatement] = []
    em.pre = []  # the helpers the optimizers define (a subclass computing the language's formula), before them
    # one optimizer per check: Keras binds an optimizer to the variables it first updates
    for check, name, opt in harness_optimizers(loc):
        try:
            value = em.construct(opt)  # exactly what a notebook's train(...) would get
            if hasattr(em, "hyperparams"):
                value = cst.Tuple([cst.Element(value), cst.Element(em.hyperparams(opt))])
        except EmitError:  # refused on this target: its check is skipped (optimizer_refusals)
            value = cst.Name("None")
        optimizers.append(em.assign(name, value))
    optimizers[:0] = em.pre
    table = ", ".join(f"{check!r}: {name}" for check, name, _ in harness_optimizers(loc))
    optimizers.append(em.assign("D2LC_OPTIMIZERS", cst.parse_expression("{" + table + "}")))
    # every model's own param(...) names in declaration order, by class: a model nested in another lists its own
    orders = {s.name: [m.name for m in s.members if isinstance(m.value, ir.ParamDecl)]
              for s in module.stmts() if isinstance(s, ir.ModelDef)}
    optimizers.append(em.assign("D2LC_PARAM_ORDERS", cst.parse_expression(repr(orders))))
    mdef = next(s for s in module.stmts() if isinstance(s, ir.ModelDef) and s.name == model)
    optimizers.extend(em.harness_globals(mdef))
    from d2lc.core.layers import WEIGHT_NAMES, WEIGHT_ROLES  # the specs' tensor roles, for the reference's description
    optimizers.append(em.assign("D2LC_ROLES", cst.parse_expression(repr(list(WEIGHT_ROLES)))))
    optimizers.append(em.assign("D2LC_WEIGHT_NAMES", cst.parse_expression(repr(WEIGHT_NAMES))))
    more = extra(em) if extra is not None else []
    code = render(body + list(cst.parse_module(glue).body) + optimizers + list(cases.body) + more)
    setup = em.setup_code(code)
    return (setup + "\n\n\n" if setup else "") + code + "\n"


TRAIN_EPOCHS, TRAIN_BATCHES = 2, 2  # the harness' training run: epochs, minibatches per epoch (harness/models.py)
OPTIMIZER_STEPS = 10  # optimizer steps the model harness compares (Adam's epsilon placement shows only after the first)
CASES = """
def d2lc_make(X, params):
    handle = d2lc_build(MODEL(HPARAMS), X)
    d2lc_set_params(handle, params)
    return handle


def d2lc_case_describe(X):
    return d2lc_describe(d2lc_build(MODEL(HPARAMS), X), X)


def d2lc_case_forward(X, *params):
    return d2lc_forward(d2lc_make(X, params), X)


def d2lc_case_grads(X, y, *params):
    loss, grads = d2lc_grads(d2lc_make(X, params), X, y, LOSS)
    return loss, tuple(grads)


def d2lc_case_train(X, y, *params):
    losses, after = d2lc_run("train", X, y, params)
    return tuple(losses), tuple(after)


def d2lc_run(check, X, y, params, starts=None, trace=None):
    steps = TRAIN_STEPS if check == "train" else STEPS
    batch = len(y) // steps if check == "train" else None
    handle = d2lc_make(X if batch is None else X[:batch], params)
    return d2lc_steps(handle, X, y, LOSS, D2LC_OPTIMIZERS[check], steps, batch, starts=starts, trace=trace)


def d2lc_case_trace(check, X, y, *params):
    trace = []
    losses, _ = d2lc_run(check, X, y, params, trace=trace)
    return tuple(losses), tuple(tuple(after) for after in trace)


def d2lc_case_from(check, X, y, *starts):
    steps = TRAIN_STEPS if check == "train" else STEPS
    size = len(starts) // steps
    starts = [starts[i * size:(i + 1) * size] for i in range(steps)]
    trace = []
    losses, _ = d2lc_run(check, X, y, starts[0], starts=starts, trace=trace)
    return tuple(losses), tuple(tuple(after) for after in trace)

"""
STEPS_CASE = """

def d2lc_case_CHECK(X, y, *params):
    losses, after = d2lc_run("CHECK", X, y, params)
    return tuple(losses), tuple(after)
"""
# The optimizers the model harness steps (harness/models.py): check name, the harness module's variable, the
# optimizer and its arguments. One check per optimizer the language offers; "momentum" is SGD's.
HARNESS_OPTIMIZERS: tuple[tuple[str, str, str, dict[str, float]], ...] = (
    ("sgd", "D2LC_SGD", "SGD", {"lr": 0.1}),
    ("adam", "D2LC_ADAM", "Adam", {"lr": 0.01}),
    ("train", "D2LC_TRAIN", "SGD", {"lr": 0.1}),
    ("momentum", "D2LC_MOMENTUM", "SGD", {"lr": 0.05, "momentum": 0.9}),
    ("rmsprop", "D2LC_RMSPROP", "RMSProp", {"lr": 0.01}),
    ("adagrad", "D2LC_ADAGRAD", "Adagrad", {"lr": 0.1}),
    ("adamw", "D2LC_ADAMW", "AdamW", {"lr": 0.01, "weight_decay": 0.1}),
)


def harness_optimizers(loc) -> list[tuple[str, str, ir.Construct]]:
    """(check, variable, optimizer construct) for every optimizer the model harness steps."""
    from d2lc.core.types import OpaqueType
    return [(check, name, ir.Construct(OpaqueType("optimizer"), loc, kind,
                                       {k: ir.Const(OpaqueType("float"), loc, v) for k, v in args.items()}))
            for check, name, kind, args in HARNESS_OPTIMIZERS]


def optimizer_refusals(module: ir.Module, backend: Backend) -> dict[str, str]:
    """{check: why} for the harness optimizers `backend` refuses (a compile error a notebook would get)."""
    em = backend.emitter(backend, module)
    loc = next(iter(module.stmts())).loc
    out = {}
    for check, _, opt in harness_optimizers(loc):
        try:
            em.construct(opt)
        except EmitError as exc:
            out[check] = exc.diagnostic.message
    return out
