"""Model equivalence: identical parameters in one canonical layout, loaded into every framework.

For each model in the chapters: random parameters in the IR's canonical layout (Linear (out, in),
conv OIHW, NCHW activations, recurrent layers as PyTorch's) are converted to each backend's declared
layout and loaded; then forward outputs (eval mode), loss gradients for every parameter (train mode),
and ten steps of SGD, of Adam and of each other optimizer the chapter trains the model with (modgen.HARNESS_OPTIMIZERS;
losses and resulting parameters) are compared against the reference target; optimizer runs that part are compared step
by step from the target's own parameters (shadow.py). Gradients come back by the transpose of the parameter map; where a framework keeps
one bias for a recurrent layer's two, its parameters cannot be read back, so its optimizer checks skip.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from d2lc.core import ir
from d2lc.emit.backend import Backend
from d2lc.harness.canonical import CanonicalParam, activation_to_canonical, activation_to_native, grads_to_canonical, not_invertible, params_to_canonical, params_to_native
from d2lc.core.diagnostics import CompileError
from d2lc.build.checked import compile_chapter
from d2lc.core.ir import static_value
from d2lc.core.layers import WEIGHT_NAMES, WEIGHT_ROLES, WEIGHTS
from d2lc.build.modgen import OPTIMIZER_STEPS, TRAIN_BATCHES, TRAIN_EPOCHS, model_module_source, optimizer_refusals
from d2lc.core.types import ScalarType, TensorType
from d2lc.harness.cases import author_spelling
from d2lc.harness.headlines import error_headline
from d2lc.harness.shadow import one_ulp_away, step_by_step

CHECKS = ("forward", "grads", "sgd", "adam", "train", "momentum", "rmsprop", "adagrad", "adamw")
# The checks of the other optimizers: a model gets the one of each optimizer its chapter trains it with (every one
# with `model_cases(..., all_optimizers=True)`, as tests/test_optimizers.py runs them); sgd and adam run on all.
EXTRA_OPTIMIZER_CHECKS = CHECKS[5:]
# "train": minibatch SGD, the same tolerances as full-batch SGD (the same float32 arithmetic over a few more steps);
# every optimizer's ten steps (modgen.HARNESS_OPTIMIZERS) the same as SGD's and Adam's
TOL = {"forward": (1e-4, 1e-5), "grads": (1e-3, 1e-4), **{c: (1e-3, 5e-4) for c in CHECKS[2:]}}
# Optimizers that divide by a gradient's own running size: an element whose gradient is zero up to rounding takes a
# step whose direction rounding sets, so those elements are not compared (_mask_noise).
ADAPTIVE = ("adam", "rmsprop", "adagrad", "adamw")


@dataclass
class ModelCase:
    chapter: str
    model: ir.ModelDef
    module: ir.Module
    hparams: dict[str, object]
    input_shape: tuple[int, ...]
    loss: str
    params: list[CanonicalParam]
    checks: tuple[str, ...] = CHECKS
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The model's name in the emitted code."""
        return self.model.name

    @property
    def written(self) -> str:
        """The model's name as the chapter's author wrote it (what reports show; `list_` -> `list`)."""
        return author_spelling(self.module)(self.model.name)


@dataclass
class ModelResult:
    case: str
    check: str
    target: str
    status: str  # pass | FAIL | skip | error
    max_abs: float = 0.0
    max_rel: float = 0.0
    detail: str = ""


def _dropout_rates(layer) -> list:
    if isinstance(layer, ir.LayerList):
        return [r for st in ir.list_steps(layer.steps) if isinstance(st, ir.LayerAppend) for r in _dropout_rates(st.value)]
    if isinstance(layer, ir.Layer):
        own = [layer.args.get("rate")] if layer.kind == "Dropout" else []
        return own + [r for c in layer.children for r in _dropout_rates(c)]
    return []


def model_cases(paths: list[Path], all_optimizers: bool = False) -> tuple[list[ModelCase], list[str]]:
    """Every model in the chapters with what the harness needs to run it, and notes on those it cannot; each steps
    SGD and Adam, and the other optimizers its chapter trains it with (all of them with `all_optimizers`)."""
    from d2lc.emit.backend import registry
    known = set(registry())
    cases, notes = [], []
    files = sorted(p for path in paths for p in (path.rglob("*.md") if path.is_dir() else [path]))
    for f in files:
        try:
            module = compile_chapter(f.read_text(encoding="utf-8"), str(f), known)
        except CompileError:
            continue
        for s in module.stmts():
            if not isinstance(s, ir.ModelDef):
                continue
            case = _case(str(f), module, s, trained_with(module).get(s.name))
            if isinstance(case, str):
                notes.append(f"{author_spelling(module)(s.name)} ({f.name}): {case}")
            else:
                extra = set(EXTRA_OPTIMIZER_CHECKS) if all_optimizers else optimizer_checks(module).get(s.name, set())
                case.checks = tuple(c for c in case.checks if c not in EXTRA_OPTIMIZER_CHECKS or c in extra)
                cases.append(case)
    return cases, notes


def optimizer_checks(module: ir.Module) -> dict[str, set[str]]:
    """{model name: the checks of the optimizers the chapter's `train(...)` calls use for it}."""
    out: dict[str, set[str]] = {}
    made = {s.name: s.value.model for s in module.stmts() if isinstance(s, ir.Assign) and isinstance(s.value, ir.NewModel)}
    for s in module.stmts():
        if isinstance(s, ir.Train):
            net = s.net
            name = net.model if isinstance(net, ir.NewModel) else made.get(net.name) if isinstance(net, ir.Var) else None
            opt = s.optimizer
            check = {"RMSProp": "rmsprop", "Adagrad": "adagrad", "AdamW": "adamw"}.get(opt.kind)
            if opt.kind == "SGD" and not (isinstance(opt.args.get("momentum"), ir.Const) and not opt.args["momentum"].value):
                check = "momentum" if opt.args.get("momentum") is not None else None
            if name is not None and check is not None:
                out.setdefault(name, set()).add(check)
    return out


def trained_with(module: ir.Module) -> dict[str, str]:
    """{model name: the loss a `train(...)` of the chapter uses for it}."""
    made: dict[str, str] = {}
    out: dict[str, str] = {}
    for s in module.stmts():
        if isinstance(s, ir.Assign) and isinstance(s.value, ir.NewModel):
            made[s.name] = s.value.model
        elif isinstance(s, ir.Train):
            net = s.net
            name = net.model if isinstance(net, ir.NewModel) else made.get(net.name) if isinstance(net, ir.Var) else None
            if name is not None:
                out.setdefault(name, s.loss.kind)
    return out


def _case(chapter: str, module: ir.Module, m: ir.ModelDef, loss: str | None = None) -> ModelCase | str:
    fwd = m.forward
    if not fwd.params or not isinstance(fwd.params[0].type, TensorType):
        return "forward's input has no tensor type annotation"
    hparams: dict[str, object] = {}
    for p in m.hparams:
        if "dropout" in p.name:
            hparams[p.name] = 0.0  # compare with dropout off
        elif p.default is None:
            hparams[p.name] = 4 if not isinstance(p.type, ScalarType) or p.type.kind == "int" else 0.1
    sizes = {p.name: static_value(p.default) for p in m.hparams if p.default is not None}
    sizes.update(hparams)  # an input axis named after a hyperparameter has that hyperparameter's size
    shape = []
    for i, d in enumerate(fwd.params[0].type.shape):
        size = sizes.get(d)
        shape.append(d if isinstance(d, int) else size if isinstance(size, int) and not isinstance(size, bool) else 6 if i == 0 else 4)
    literal_dropout = [r for mm in m.members for r in _dropout_rates(mm.value) if isinstance(r, ir.Const) and r.value]
    params: list[CanonicalParam] = []  # filled from the reference framework's model (see describe)
    if loss is None:  # not trained in its chapter: a classifier if it surely gives several scores per example
        out = fwd.result
        width = out.shape[-1] if isinstance(out, TensorType) and out.rank == 2 else 1
        width = sizes.get(width) if isinstance(width, str) else width
        # (squared loss is never vacuous; cross-entropy over one score is constant)
        loss = "cross_entropy" if isinstance(width, int) and width > 1 else "squared_loss"
    if loss == "cross_entropy" and not (isinstance(fwd.result, TensorType) and fwd.result.rank == 2):
        loss = "squared_loss"  # per-step scores [batch, time, classes]: compared under squared loss
    from d2lc.core.layers import has_params
    parameter_free = not any(has_params(mm.value) for mm in m.members if isinstance(mm.value, (ir.Layer, ir.ParamDecl, ir.NewModel)))
    checks = ("forward",) if literal_dropout or parameter_free else CHECKS
    case = ModelCase(chapter, m, module, hparams, tuple(shape), loss, params, checks)
    if literal_dropout:
        case.notes.append("dropout with a fixed rate: forward (eval mode) only")
    elif parameter_free:
        case.notes.append("no parameters: forward only")
    return case


KINDS = (None, *WEIGHT_NAMES)  # a described tensor's layer kind: 0 for none, else 1 + its index in WEIGHT_NAMES
OPTIMIZER_CHECKS = CHECKS[2:]


def draw_input(case: ModelCase, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    fwd_type = case.model.forward.params[0].type
    if fwd_type.dtype.is_int:  # token ids
        return rng.integers(0, 5, size=case.input_shape).astype(np.int64)
    return rng.normal(size=case.input_shape).astype(np.float32)


def describing_backend(available) -> Backend | None:
    """The first installed backend, of those available, whose harness glue lists a model's parameters in the IR's
    canonical order and layout (`Backend.describes_models`)."""
    from d2lc.emit.backend import registry
    return next((b for b in registry().values() if b.describes_models and b.name in available), None)


def describe(session, case: ModelCase, X: np.ndarray) -> list[CanonicalParam] | str:
    """The canonical parameter list, read off the model as the describing backend builds it."""
    from d2lc.harness.client import CallFailed, WorkerError
    describer = describing_backend(session.available())
    if describer is None:
        return "no available target describes models (Backend.describes_models: the canonical parameter order)"
    key = _key(case)
    worker = session.worker_for(describer.name)
    try:
        worker.add_module(describer.name, key, model_module_source(case.module, describer, case.name, case.hparams, case.loss))
        rows = worker.call(describer.name, key, "d2lc_case_describe", [X]).value
    except (CallFailed, WorkerError) as exc:
        return f"cannot describe the model: {exc}"
    params = []
    for i, (role_index, shape, chw, kind) in enumerate(rows):
        chw = tuple(int(c) for c in chw)
        role = WEIGHT_ROLES[int(role_index)]
        cell = KINDS[int(kind)] if WEIGHTS[role].layout == "gates" else None  # a recurrent layer's arrays regroup by its cell
        params.append(CanonicalParam(f"#{i}", role, tuple(int(d) for d in shape), chw if any(chw) else None, cell))
    return params


def draw(case: ModelCase, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed + 2)
    params = []
    for p in case.params:
        if WEIGHTS[p.role].positive:  # a scale or a variance
            params.append(rng.uniform(0.5, 1.5, p.shape).astype(np.float32))
        else:
            fan_in = int(np.prod(p.shape[1:])) if len(p.shape) > 1 else max(p.shape[0], 1)
            params.append((rng.normal(size=p.shape) / np.sqrt(fan_in)).astype(np.float32))
    return params


def labels(case: ModelCase, logits: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    if case.loss == "cross_entropy":
        return rng.integers(0, logits.shape[-1], size=logits.shape[0]).astype(np.int64)
    return rng.normal(size=logits.shape).astype(np.float32)


def training_run(X: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The minibatches of a short training run, in order: each epoch a seeded NumPy permutation of the examples
    (one data order for every framework, batch axis first in every layout), cut by the glue into equal batches."""
    from d2lc.build.modgen import TRAIN_BATCHES, TRAIN_EPOCHS
    rng = np.random.default_rng(seed + 3)
    used = len(y) // TRAIN_BATCHES * TRAIN_BATCHES  # whole batches in every epoch
    order = np.concatenate([rng.permutation(len(y))[:used] for _ in range(TRAIN_EPOCHS)])
    return np.ascontiguousarray(X[order]), np.ascontiguousarray(y[order])


def epoch_losses(step_losses) -> list[float]:
    """Per-epoch mean training loss of a `train` check's step losses."""
    from d2lc.build.modgen import TRAIN_BATCHES
    steps = np.asarray(step_losses, np.float64)
    return [float(e.mean()) for e in steps.reshape(-1, TRAIN_BATCHES)]


def _err(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("inf"), float("inf")
    diff = np.abs(a - b)
    return float(diff.max(initial=0.0)), float((diff / (np.abs(b) + 1e-12)).max(initial=0.0))


def _close(a, b, rtol, atol) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _all_close(got, want, rtol: float, atol: float) -> bool:
    """Every array of a result within tolerance of the reference's, and as many of them."""
    a, b = _flat(got), _flat(want)
    return len(a) == len(b) and all(_close(x, y, rtol, atol) for x, y in zip(a, b))


def run_model_cases(session, cases: list[ModelCase], backends: dict[str, Backend], reference: str | None = None,
                    seed: int = 0) -> list[ModelResult]:
    """Run every case on every available target of `session` and compare with `reference` (default: the backend
    that describes models)."""
    results: list[ModelResult] = []
    available = set(session.available())
    if reference is None:
        describer = describing_backend(available)
        reference = describer.name if describer is not None else next(iter(backends), "")
    for case in cases:
        X = draw_input(case, seed)
        described = describe(session, case, X)
        if isinstance(described, str):
            for name in backends:
                for check in case.checks:
                    results.append(ModelResult(case.written, check, name, "skip", detail=described))
            continue
        case.params = described
        params = draw(case, seed)
        # Emitted here, one target after another; run on every target at once (each has its own worker).
        runs = [(backend, _model_source(case, backend)) for name, backend in backends.items() if name in available]
        outputs: dict[str, dict[str, object]] = dict(zip(
            [b.name for b, _ in runs],
            session.pool.map(lambda run: _run_target(session, case, run[0], X, params, seed, run[1]), runs)))
        ref = outputs.get(reference)
        adaptive = [c for c in ADAPTIVE if c in case.checks and ref is not None and isinstance(ref.get(c), tuple)]

        def one_ulp_reference(check: str, adaptive=adaptive, ref=ref, params=params, case=case, X=X):
            """The reference's `check` once more from parameters 1 ulp away (what it cannot reproduce, rounding
            decides), run the first time a comparison needs it: masking can only turn a FAIL into a pass."""
            if reference not in backends or check not in adaptive:
                return None
            if f"{check} 1 ulp" not in ref:
                again = _run_target(session, replace(case, checks=("forward", *adaptive)), backends[reference], X,
                                    one_ulp_away(params, seed), seed)
                for c in adaptive:
                    ref[f"{c} 1 ulp"] = again.get(c) if isinstance(again.get(c), tuple) else None
            return ref[f"{check} 1 ulp"]
        for name in backends:
            for check in case.checks:
                if name not in available:
                    results.append(ModelResult(case.written, check, name, "skip", detail=session.targets[name].why or "not available"))
                    continue
                got = outputs[name].get(check)
                if isinstance(got, Skipped):
                    results.append(ModelResult(case.written, check, name, "skip", detail=str(got)))
                    continue
                if isinstance(got, str):
                    results.append(ModelResult(case.written, check, name, "error", detail=error_headline(got)))
                    continue
                if check == "grads" and not any(np.any(np.asarray(g) != 0) for g in got[1]):
                    # an all-zero gradient would make every later comparison vacuous
                    results.append(ModelResult(case.written, check, name, "error",
                                               detail=f"the {case.loss} gradient is zero for every parameter: nothing to compare"))
                    continue
                if name == reference:
                    results.append(ModelResult(case.written, check, name, "pass", detail="reference"))
                    continue
                want = ref.get(check) if ref else None
                if want is None or isinstance(want, str):
                    results.append(ModelResult(case.written, check, name, "skip", detail="no reference result"))
                    continue
                rtol, atol = TOL[check]
                detail, keep = "", None
                if check in ADAPTIVE and isinstance(ref.get("grads"), tuple):
                    # Adam divides by the gradient's own size, so a gradient that is zero up to rounding becomes
                    # a full step in a direction set by that rounding: compare only elements with a real gradient.
                    # The running statistics the reference cannot reproduce are masked too, once a comparison fails.
                    raw_got, raw_want = got, want
                    got, want, skipped, noisy, keep = _mask_noise(case, raw_got, raw_want, ref["grads"][1], None, check)
                    if not _all_close(got, want, rtol, atol) and one_ulp_reference(check) is not None:
                        got, want, skipped, noisy, keep = _mask_noise(case, raw_got, raw_want, ref["grads"][1],
                                                                      one_ulp_reference(check), check)
                    detail = ", ".join(([f"{skipped} zero-gradient elements not compared"] if skipped else []) +
                                       ([f"{noisy} running-statistic elements the reference does not reproduce from "
                                         "parameters 1 ulp away not compared"] if noisy else []))
                if check == "train":
                    diffs = [abs(a - b) for a, b in zip(epoch_losses(got[0]), epoch_losses(want[0]))]
                    detail = "per-epoch loss differences " + ", ".join(f"{d:.1e}" for d in diffs)
                pairs = list(zip(_flat(got), _flat(want)))
                ok = _all_close(got, want, rtol, atol)
                errs = [_err(a, b) for a, b in pairs] or [(0.0, 0.0)]
                if check in OPTIMIZER_CHECKS and not ok:
                    # Trajectories that part: rounding amplified along them, or code? Step by step decides.
                    count = TRAIN_EPOCHS * TRAIN_BATCHES if check == "train" else OPTIMIZER_STEPS
                    masks = keep if keep is not None else [None] * len(want[1])
                    steps = step_by_step(session, case, _key(case), check, backends[name], backends[reference],
                                         _inputs(case, outputs, seed, check), params, masks, TOL[check], count)
                    ok, detail = steps.ok, "; ".join(filter(None, [detail, steps.detail]))
                results.append(ModelResult(case.written, check, name, "pass" if ok else "FAIL",
                                           max(e[0] for e in errs), max(e[1] for e in errs), detail))
    return results


def _mask_noise(case: ModelCase, got, want, ref_grads, again=None, check: str = "adam") -> tuple[tuple, tuple, int, int, list]:
    """Drop the elements whose reference gradient is zero up to rounding (trainable parameters), and the running-
    statistic elements that the reference itself does not reproduce from parameters one ulp away (`again`: its Adam
    result from there). A bias before BatchNorm has an exactly zero gradient, so Adam moves it by lr-sized steps
    of a sign rounding sets, and the running mean after it integrates those steps: both are rounding, not code."""
    masks = [np.abs(np.asarray(g)) for g in ref_grads]
    scale = max((m.max(initial=0.0) for m in masks), default=0.0)
    by_grad = iter([m > 1e-5 * scale for m in masks])
    # The results list the trainable parameters and the running statistics compared after steps, in the canonical
    # order, while the gradients list the trainable ones only.
    compared = [p for p in case.params if p.trainable or WEIGHTS[p.role].compared]
    keep = [next(by_grad) if p.trainable else None for p in compared]
    skipped = sum(int((~k).sum()) for k in keep if k is not None)
    noisy = 0
    if again is not None and len(again[1]) == len(compared):
        rtol, atol = TOL[check]

        def steady(i, margin=1.0):
            a, w = np.asarray(again[1][i], np.float64), np.asarray(want[1][i], np.float64)
            return np.abs(a - w) <= margin * (atol + rtol * np.abs(w))

        # Only where the reference reproduces every trainable element it compares: a trajectory that rounding
        # moves as a whole (a ReLU input at a kink) is not masked, it fails. A reproducible element moves by ~1e-7
        # from one ulp away; one that moves by a tenth of the tolerance or more is set by rounding.
        if all(bool(steady(i)[k].all()) for i, (p, k) in enumerate(zip(compared, keep)) if p.trainable):
            for i, p in enumerate(compared):
                if not p.trainable:
                    keep[i] = steady(i, 0.1)
                    noisy += int((~keep[i]).sum())

    def apply(result):
        losses, params = result
        return losses, [np.asarray(a) if k is None else np.asarray(a)[k] for a, k in zip(params, keep)]

    return apply(got), apply(want), skipped, noisy, keep


def _key(case: ModelCase) -> str:
    """The name under which a worker holds the model's harness module."""
    return f"model-{case.name}-{abs(hash(case.chapter)) % 10**8}"


def _inputs(case: ModelCase, outputs: dict[str, dict[str, object]], seed: int, check: str):
    """A check's (X, y) in a backend's layout, as `_run_target` draws them (labels depend on the scores' shape)."""
    def inputs(backend: Backend) -> tuple[np.ndarray, np.ndarray]:
        X = activation_to_native(draw_input(case, seed), backend.layouts)
        scores = outputs.get(backend.name, {}).get("forward")
        scores = scores if isinstance(scores, np.ndarray) else np.zeros((case.input_shape[0], 1))
        y = activation_to_native(labels(case, scores, seed), backend.layouts)
        return training_run(X, np.asarray(y), seed) if check == "train" else (X, y)
    return inputs


def _flat(v) -> list[np.ndarray]:
    if isinstance(v, (list, tuple)):
        return [x for i in v for x in _flat(i)]
    return [np.asarray(v)]


class Skipped(str):
    """A check that does not apply to a target: the reason."""


def _model_source(case: ModelCase, backend: Backend) -> str | Exception:
    """The case's model module for `backend`, or why it cannot be emitted."""
    try:
        return model_module_source(case.module, backend, case.name, case.hparams, case.loss)
    except Exception as exc:  # noqa: BLE001 - an emission failure is this target's error, reported as such
        return exc


def _run_target(session, case: ModelCase, backend: Backend, X, params, seed,
                source: str | Exception | None = None) -> dict[str, object]:
    from d2lc.harness.client import CallFailed, WorkerError
    layouts = backend.layouts
    key = _key(case)
    worker = session.worker_for(backend.name)
    out: dict[str, object] = {}
    source = _model_source(case, backend) if source is None else source
    if isinstance(source, Exception):
        return {c: f"cannot emit: {source}" for c in case.checks}
    worker.add_module(backend.name, key, source)
    native = params_to_native(case.params, params, layouts)
    why_not = not_invertible(case.params, layouts)  # parameters after optimizer steps cannot be read back
    Xn = activation_to_native(X, layouts)
    y = None
    refused = optimizer_refusals(case.module, backend)
    for check in case.checks:
        if why_not and check in OPTIMIZER_CHECKS:
            out[check] = Skipped(why_not)
            continue
        if check in refused:  # the compile error a notebook with this optimizer gets on this target
            out[check] = Skipped(refused[check])
            continue
        if check == "train" and y is not None and np.ndim(y) == 0:
            out[check] = Skipped("the model gives one number for the whole batch: no per-example data order to shuffle")
            continue
        if check == "train" and y is not None and len(y) != len(Xn):
            out[check] = Skipped(f"the loss scores {len(y)} rows for {len(Xn)} examples: no per-example data order to shuffle")
            continue
        try:
            if check == "forward":
                value = worker.call(backend.name, key, "d2lc_case_forward", [Xn, *native]).value
                out[check] = activation_to_canonical(np.asarray(value), layouts)
                # targets are drawn in the canonical layout, then stored the way this backend's outputs are
                y = activation_to_native(labels(case, out[check], seed), layouts) if y is None else y
            else:
                y = y if y is not None else labels(case, np.zeros((case.input_shape[0], 1)), seed)
                fn = f"d2lc_case_{check}"
                data = (Xn, y) if check != "train" else training_run(Xn, np.asarray(y), seed)
                first, arrays = worker.call(backend.name, key, fn, [*data, *native]).value
                to_canonical = grads_to_canonical if check == "grads" else params_to_canonical
                canon = to_canonical(case.params, [np.asarray(a) for a in arrays], layouts)
                # After training steps the running statistics the specs mark `compared` must agree (a momentum in
                # the wrong convention shows only in the running means).
                canon = [g for p, g in zip(case.params, canon) if p.trainable or (check != "grads" and WEIGHTS[p.role].compared)]
                out[check] = (first, canon)
        except (CallFailed, WorkerError) as exc:
            out[check] = str(exc)
        except ValueError as exc:  # arrays that do not fit the declared layout
            out[check] = f"the {backend.name} result does not fit its declared layout: {exc}"
    return out
