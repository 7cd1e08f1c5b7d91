"""The same training run on every target (`d2lc test --same-training`).

For every `train(...)` of the chapters: the model as the chapter builds it (its hyperparameters), identical initial
parameters drawn once in the canonical layout and loaded into each target's model (harness/models.py), identical
minibatches (one seeded NumPy permutation of a small data set per epoch, drawn here), dropout rates forced to 0,
and then the chapter's own call of the target's `train` helper (the notebook's loss, optimizer and clipping, emitted
by the backend; only the net, the data and the number of epochs are the harness'). The per-epoch history that helper
keeps (mean training loss, validation loss, validation accuracy) is compared with the reference's (`compare`).
"""
from __future__ import annotations

import copy
import textwrap
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from d2lc.core import ir
from d2lc.core.diagnostics import CompileError
from d2lc.core.ir import static_value
from d2lc.build.checked import compile_chapter
from d2lc.build.modgen import chapter_globals, model_module_source
from d2lc.emit.backend import Backend
from d2lc.harness.canonical import activation_to_canonical, activation_to_native, not_invertible, params_to_native
from d2lc.harness.compare import NOISE_FACTOR
from d2lc.harness.models import ModelCase, _case, describe, describing_backend, draw, error_headline
from d2lc.harness.shadow import one_ulp_away
from d2lc.harness.traindata import BATCH, EPOCHS, SEQ_LEN, TRAIN_BATCHES, VAL_EXAMPLES, draw_data

# Tolerances, measured (docs/equivalence.md, "The same training run"): a per-epoch mean loss within
# LOSS_ATOL + LOSS_RTOL * |reference|; an accuracy within ACC_FLIPS predictions of the validation set.
LOSS_RTOL, LOSS_ATOL = 1e-3, 1e-4
ACC_FLIPS = 1


@dataclass
class TrainingCase:
    """One `train(...)` of a chapter: the model harness' case (its hyperparameters the chapter's) and the call."""
    case: ModelCase
    train: ir.Train  # net, data and epochs replaced by the harness' (`_harness_call`)
    line: int
    input_shape: tuple[int, ...]  # one example's, canonical layout

    @property
    def name(self) -> str:
        return f"{self.case.written} ({Path(self.case.chapter).stem}:{self.line})"


@dataclass
class History:
    """The per-epoch history of one target's run, as its `train` helper keeps it."""
    train_loss: list[float]
    val_loss: list[float]
    val_acc: list[float]
    seconds: float = 0.0


@dataclass
class TrainingResult:
    case: str
    target: str
    status: str  # pass | FAIL | skip | error | known (a listed FAIL or error, `mark_known`)
    loss_diffs: list[float] = field(default_factory=list)  # per epoch: |training loss - the reference's|
    val_diffs: list[float] = field(default_factory=list)
    acc_diffs: list[float] = field(default_factory=list)
    seconds: float = 0.0
    detail: str = ""

    @property
    def model(self) -> str:
        """The model's name (`DenseNet` of `DenseNet (densenet:146)`): the row of a known divergence."""
        return self.case.split(" ")[0]

    @property
    def max_loss_diff(self) -> float:
        return max(self.loss_diffs + self.val_diffs, default=0.0)


# ---- the cases --------------------------------------------------------------------------------------------------
def training_cases(paths: list[Path]) -> tuple[list[TrainingCase], list[str]]:
    """Every `train(...)` of the chapters whose net is a model of the chapter, and notes on those that are not."""
    from d2lc.emit.backend import registry
    known = set(registry())
    cases, notes = [], []
    for f in sorted(p for path in paths for p in (path.rglob("*.md") if path.is_dir() else [path])):
        try:
            module = without_dropout(compile_chapter(f.read_text(encoding="utf-8"), str(f), known))
        except CompileError:
            continue
        made: dict[str, ir.NewModel] = {}
        env: dict[str, object] = {}  # the top-level constants so far (the parameters cell)
        for s in module.stmts():
            if isinstance(s, ir.Assign):
                made.pop(s.name, None)
                env.pop(s.name, None)
                if isinstance(s.value, ir.NewModel):
                    made[s.name] = s.value
                elif static_value(s.value) is not None:
                    env[s.name] = static_value(s.value)
            if not isinstance(s, ir.Train):
                continue
            new = s.net if isinstance(s.net, ir.NewModel) else made.get(s.net.name) if isinstance(s.net, ir.Var) else None
            mdef = next((m for m in module.stmts() if isinstance(m, ir.ModelDef) and new is not None and m.name == new.model), None)
            if mdef is None:
                notes.append(f"{f.name}:{s.loc.line}: the net is not a model of the chapter")
                continue
            case = _case(str(f), module, mdef, s.loss.kind)
            if isinstance(case, str):
                notes.append(f"{mdef.name} ({f.name}:{s.loc.line}): {case}")
                continue
            case.hparams = chapter_hparams(mdef, new, env, case.hparams)
            data = _data_construct(module, s)
            cases.append(TrainingCase(case, _harness_call(s), s.loc.line, _example_shape(mdef, case.hparams, env, data)))
    return cases, notes


def without_dropout(module: ir.Module) -> ir.Module:
    """A copy of the chapter whose every Dropout layer has rate 0: dropout draws differ by framework and cannot agree."""
    module = copy.deepcopy(module)
    for s in module.stmts():
        if isinstance(s, ir.ModelDef):
            for e in ir.walk_exprs([m.value for m in s.members]):  # (walk_exprs of a ModelDef enters no member)
                if isinstance(e, ir.Layer) and e.kind == "Dropout" and "rate" in e.args:
                    rate = e.args["rate"]
                    e.args["rate"] = ir.Const(rate.type, rate.loc, 0.0)
    return module


def chapter_hparams(mdef: ir.ModelDef, new: ir.NewModel, env: dict[str, object],
                    fallback: dict[str, object]) -> dict[str, object]:
    """The hyperparameters the chapter passes (`MLP(10, num_hiddens)`), as constants; those it leaves to their
    defaults are not written; one the harness cannot evaluate keeps the model harness' value."""
    def value(e: ir.Expr):
        return env.get(e.name) if isinstance(e, ir.Var) else static_value(e)

    given = dict(zip((p.name for p in mdef.hparams), new.args)) | dict(new.kwargs)
    out = {}
    for p in mdef.hparams:
        v = value(given[p.name]) if p.name in given else None
        if "dropout" in p.name:
            out[p.name] = 0.0
        elif v is not None:
            out[p.name] = v
        elif p.name in fallback:
            out[p.name] = fallback[p.name]
    return out


def _data_construct(module: ir.Module, t: ir.Train) -> ir.Construct | None:
    if isinstance(t.data, ir.Construct):
        return t.data
    last = None
    for s in module.stmts():
        if s is t:
            break
        if isinstance(s, ir.Assign) and isinstance(t.data, ir.Var) and s.name == t.data.name:
            last = s.value
    return last if isinstance(last, ir.Construct) else None


def _example_shape(mdef: ir.ModelDef, hparams: dict[str, object], env: dict[str, object],
                   data: ir.Construct | None) -> tuple[int, ...]:
    """One example's shape: the declared sizes; a size named after a hyperparameter or constant has its value; a
    token sequence SEQ_LEN steps; a feature axis the data set's weight vector's length (synthetic_regression)."""
    fwd = mdef.forward.params[0].type
    sizes = {**env, **hparams}
    shape = []
    for d in fwd.shape[1:]:
        size = d if isinstance(d, int) else sizes.get(d)
        if not isinstance(size, int) or isinstance(size, bool):
            weights = [e for e in ir.walk_exprs(data.args.get("w")) if isinstance(e, ir.Seq)] if data is not None and data.args.get("w") is not None else []
            size = SEQ_LEN if fwd.dtype.is_int else len(weights[0].items) if weights else 4
        shape.append(size)
    return tuple(shape)


def _harness_call(t: ir.Train) -> ir.Train:
    """The chapter's call with the harness' net, data and epochs (its loss, optimizer and clip as written)."""
    loc = t.loc
    return ir.Train(loc, ir.Var(t.net.type, loc, "d2lc_net"), ir.Var(t.data.type, loc, "d2lc_data"), t.loss, t.optimizer,
                    ir.Var(t.epochs.type, loc, "d2lc_epochs"), t.clip, t.model)


# ---- the harness module -----------------------------------------------------------------------------------------
TRAIN_CASE = '''
D2LC_HISTORIES = []


def plot_history(history):
    D2LC_HISTORIES.append(history)  # the harness records the history a notebook would plot


class D2lcBatches:
    """Minibatches in the harness' order: the k-th complete pass yields epoch k's rows (X holds the epochs one after
    another); a pass that stops early (`train` peeking at the first batch) does not count."""

    def __init__(self, X, y, batch, size, epochs):
        self.X, self.y, self.batch, self.size, self.epochs, self.passes = X, y, batch, size, epochs, 0

    def __iter__(self):
        start = self.passes % self.epochs * self.size
        for i in range(start, start + self.size, self.batch):
            yield self.X[i:i + self.batch], self.y[i:i + self.batch]
        self.passes += 1

    def __call__(self):
        return iter(self)


if "d2lc_trainee" not in globals():
    def d2lc_trainee(handle):
        return handle  # what the chapter's `train` receives: the model itself (a glue defines it where it differs)


def d2lc_case_chapter_train(X, y, Xv, yv, batch, size, val_size, d2lc_epochs, *params):
    return d2lc_chapter_train(d2lc_make(X[:batch], params), X, y, Xv, yv, batch, size, val_size, d2lc_epochs)


def d2lc_case_own_train(X, y, Xv, yv, batch, size, val_size, d2lc_epochs, seed):
    """The same run from the target's own initialisers, its generator seeded with `seed` (harness/owninit.py)."""
    return d2lc_chapter_train(d2lc_seeded(lambda: MAKE, X[:batch], seed), X, y, Xv, yv, batch, size, val_size, d2lc_epochs)


def d2lc_chapter_train(handle, X, y, Xv, yv, batch, size, val_size, d2lc_epochs):
    d2lc_net = d2lc_trainee(handle)
    d2lc_data = (D2lcBatches(X, y, batch, size, d2lc_epochs), D2lcBatches(Xv, yv, batch, val_size, 1))
CALL
    history = D2LC_HISTORIES.pop()
    return tuple(history["train loss"]), tuple(history["val loss"]), tuple(history["val acc"])
'''


def training_module_source(tc: TrainingCase, backend: Backend) -> str:
    """The model harness' module for the case's model, and `d2lc_case_chapter_train`: the chapter's `train` call."""
    import libcst as cst

    from d2lc.emit.fmt import render

    def chapter_call(em) -> list:
        em.helpers_emitted.add("plot_history")  # TRAIN_CASE's records instead of drawing
        t = tc.train  # (walk_exprs does not enter a Train's loss, optimizer and clip: they are named here)
        code = [st for a in chapter_globals(tc.case.module, [t.loss, t.optimizer, t.clip]) for st in em.stmt(a)]
        emitted = em.stmt(tc.train)  # the helpers the call needs (the `train` snippet), then the call
        call = textwrap.indent(render(emitted[-1:]), "    ")
        make = f"{case.name}(" + ", ".join(f"{k}={v!r}" for k, v in case.hparams.items()) + ")"
        return code + emitted[:-1] + list(cst.parse_module(TRAIN_CASE.replace("CALL", call).replace("MAKE", make)).body)

    case = tc.case
    return model_module_source(case.module, backend, case.name, case.hparams, case.loss, extra=chapter_call)


def target_inputs(backend: Backend, tc: TrainingCase, data: tuple[np.ndarray, ...],
                  params: list[np.ndarray]) -> list[object]:
    """The arguments of one target's `d2lc_case_chapter_train`: the data and parameters in its layout."""
    layouts = backend.layouts
    X, y, Xv, yv = (activation_to_native(a, layouts) for a in data)
    return [X, y, Xv, yv, BATCH, BATCH * TRAIN_BATCHES, VAL_EXAMPLES, EPOCHS, *params_to_native(tc.case.params, params, layouts)]


# ---- the runs ---------------------------------------------------------------------------------------------------
def _key(tc: TrainingCase) -> str:
    return f"sametrain-{tc.case.name}-{tc.line}-{abs(hash(tc.case.chapter)) % 10**8}"


def _run_target(session, tc: TrainingCase, backend: Backend, data, params) -> History | str:
    """One target's run, or why it could not run (a `Skipped` reason or an error headline)."""
    from d2lc.harness.client import CallFailed, WorkerError
    from d2lc.harness.models import Skipped
    why_not = not_invertible(tc.case.params, backend.layouts)
    if why_not:
        return Skipped(why_not)
    try:
        source = training_module_source(tc, backend)
    except Exception as exc:  # noqa: BLE001 - an emission failure is this target's error
        return f"cannot emit: {exc}"
    worker = session.worker_for(backend.name)
    try:
        worker.add_module(backend.name, _key(tc), source)
        t0 = time.perf_counter()
        losses, val, acc = worker.call(backend.name, _key(tc), "d2lc_case_chapter_train",
                                       target_inputs(backend, tc, data, params)).value
    except (CallFailed, WorkerError) as exc:
        return error_headline(str(exc))
    return History([float(v) for v in losses], [float(v) for v in val], [float(v) for v in acc], time.perf_counter() - t0)


def _start(session, tc: TrainingCase, seed: int) -> tuple[tuple[np.ndarray, ...], list[np.ndarray]] | str:
    """The case's data and initial parameters (canonical), or why there are none."""
    from d2lc.harness.client import CallFailed, WorkerError
    from d2lc.harness.models import _key as model_key
    fwd = tc.case.model.forward.params[0].type
    probe = np.zeros((2, *tc.input_shape), np.int64 if fwd.dtype.is_int else np.float32)
    described = describe(session, tc.case, probe)
    if isinstance(described, str):
        return described
    tc.case.params = described
    params = draw(tc.case, seed)
    describer = describing_backend(session.available())
    native = params_to_native(described, params, describer.layouts)
    try:  # the scores' shape, for the labels
        scores = worker_value(session, describer.name, model_key(tc.case), "d2lc_case_forward",
                              [activation_to_native(probe, describer.layouts), *native])
    except (CallFailed, WorkerError) as exc:
        return f"the reference's forward raised: {error_headline(str(exc))}"
    out_shape = np.shape(activation_to_canonical(np.asarray(scores), describer.layouts))
    return draw_data(tc.input_shape, fwd.dtype.is_int, tc.train.loss.kind, tuple(out_shape), seed), params


def worker_value(session, target: str, key: str, function: str, args: list) -> object:
    return session.worker_for(target).call(target, key, function, args).value


def run_same_training(session, cases: list[TrainingCase], backends: dict[str, Backend], reference: str = "pytorch",
                      seed: int = 0, done: Callable[[list[TrainingResult]], None] | None = None) -> list[TrainingResult]:
    """Every case on every available target of `session`, compared with `reference`'s run; `done` gets each case's
    results as soon as they are in."""
    from d2lc.harness.models import Skipped
    results: list[TrainingResult] = []
    available = set(session.available())
    for tc in cases:
        start = _start(session, tc, seed)
        if isinstance(start, str):
            results.extend(TrainingResult(tc.name, name, "skip", detail=start) for name in backends)
            if done is not None:
                done(results[-len(backends):])
            continue
        data, params = start
        runs = [b for name, b in backends.items() if name in available]
        outputs = dict(zip([b.name for b in runs],
                           session.pool.map(lambda b: _run_target(session, tc, b, data, params), runs)))
        ref = outputs.get(reference)
        again = _run_target(session, tc, backends[reference], data, one_ulp_away(params, seed)) \
            if isinstance(ref, History) and reference in backends else None
        noise = again if isinstance(again, History) else None
        for name in backends:
            got = outputs.get(name)
            if name not in available:
                results.append(TrainingResult(tc.name, name, "skip", detail=session.targets[name].why or "not available"))
            elif isinstance(got, Skipped):
                results.append(TrainingResult(tc.name, name, "skip", detail=str(got)))
            elif isinstance(got, str):
                results.append(TrainingResult(tc.name, name, "error", detail=got))
            elif name == reference:
                results.append(TrainingResult(tc.name, name, "pass", seconds=got.seconds, detail="reference: " + summary(got)))
            elif not isinstance(ref, History):
                results.append(TrainingResult(tc.name, name, "skip", seconds=got.seconds, detail="no reference run"))
            else:
                results.append(compare(tc.name, name, got, ref, VAL_EXAMPLES * _steps(data), noise))
        if done is not None:
            done([r for r in results if r.case == tc.name])
    return results


def _steps(data: tuple[np.ndarray, ...]) -> int:
    """Predictions per validation example: one per step of a label sequence."""
    yv = data[3]
    return int(np.prod(yv.shape[1:])) if yv.dtype.kind in "iu" else 1


def compare(case: str, target: str, got: History, ref: History, predictions: int,
            again: History | None = None) -> TrainingResult:
    """A target's history against the reference's: every per-epoch loss within LOSS_ATOL + LOSS_RTOL * |reference|,
    every accuracy within ACC_FLIPS of the `predictions` the validation set holds; to each, NOISE_FACTOR times how
    far the reference's own value moves when it starts from parameters one ulp away (`again`) is added, as for
    functions and optimizer steps (compare.NOISE_FACTOR): a trajectory that amplifies rounding excuses what it moves."""
    def diffs(a: list[float], b: list[float]) -> list[float]:
        return [abs(x - y) for x, y in zip(a, b)] if len(a) == len(b) else [float("inf")] * max(len(b), 1)

    def within(d: list[float], b: list[float], moved: list[float], atol: float, rtol: float) -> bool:
        moved = moved if len(moved) == len(d) else [0.0] * len(d)
        return all(x <= atol + rtol * abs(y) + NOISE_FACTOR * m for x, y, m in zip(d, b, moved))

    def noise(a: list[float], b: list[float]) -> list[float]:
        return diffs(a, b) if again is not None else []

    loss, val, acc = diffs(got.train_loss, ref.train_loss), diffs(got.val_loss, ref.val_loss), diffs(got.val_acc, ref.val_acc)
    moved = [noise(again.train_loss, ref.train_loss), noise(again.val_loss, ref.val_loss),
             noise(again.val_acc, ref.val_acc)] if again is not None else [[], [], []]
    ok = len(got.train_loss) == EPOCHS and within(loss, ref.train_loss, moved[0], LOSS_ATOL, LOSS_RTOL) and \
        within(val, ref.val_loss, moved[1], LOSS_ATOL, LOSS_RTOL) and within(acc, ref.val_acc, moved[2], ACC_FLIPS / predictions + 1e-12, 0.0)
    yardstick = max(moved[0] + moved[1], default=0.0)
    detail = (f"per-epoch train loss differences {_fmt(loss)}, validation loss {_fmt(val)}"
              + (f", accuracy {_fmt(acc)} ({predictions} predictions)" if ref.val_acc else "")
              + (f"; the reference moves by up to {yardstick:.1e} from parameters 1 ulp away" if again is not None else "")
              + "; " + summary(got))
    return TrainingResult(case, target, "pass" if ok else "FAIL", loss, val, acc, got.seconds, detail)


def mark_known(results: list[TrainingResult], known: dict[tuple[str, str], str]) -> list[TrainingResult]:
    """Each FAIL or error listed as (`MODEL same-training`, target) in `known` becomes `known`, its reason first in
    its detail (tests/known_training_divergences.txt)."""
    out = []
    for r in results:
        reason = known.get((f"{r.model} same-training", r.target))
        if reason is not None and r.status in ("FAIL", "error"):
            r = replace(r, status="known", detail=f"known: {reason}\n      {r.detail}")
        out.append(r)
    return out


def summary(h: History) -> str:
    return "train loss " + ", ".join(f"{v:.5f}" for v in h.train_loss) + \
        ("; val acc " + ", ".join(f"{v:.4f}" for v in h.val_acc) if h.val_acc else "")


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.1e}" for v in values)


def report_lines(results: list[TrainingResult], reference: str) -> list[str]:
    """One line per case and target: status, the largest per-epoch loss difference, the run's seconds, detail."""
    lines = []
    for r in results:
        head = f"{r.status:5} {r.case} on {r.target}"
        if r.status in ("pass", "FAIL", "known") and r.target != reference:
            head += f": max per-epoch loss difference {r.max_loss_diff:.1e} ({r.seconds:.1f} s)"
        elif r.target == reference and r.status == "pass":
            head += f" ({r.seconds:.1f} s)"
        lines.append(head + (f"\n      {r.detail}" if r.detail else ""))
    return lines


def training_session(backends: list[Backend], device: str = "cpu", call_timeout: float = 600.0,
                     cache_dir: Path | None = None):
    """The model harness' workers, one per target, with the CPUs shared out among them (build/execute.py's
    `thread_env`): OpenMP pools as wide as the machine, side by side, spin; on a loaded 2-core machine a scratch GRU's
    run took 42 s instead of 0.7 s. Not started."""
    from d2lc.build.execute import thread_env
    from d2lc.harness.session import Session
    return Session(backends, device=device, call_timeout=call_timeout, cache_dir=cache_dir, env=thread_env(len(backends)))


def same_training(paths: list[Path], backends: list[Backend], reference: str = "pytorch", seed: int = 0,
                  device: str = "cpu", call_timeout: float = 600.0, only: set[str] | None = None,
                  cache_dir: Path | None = None, done: Callable[[list[TrainingResult]], None] | None = None,
                  ) -> tuple[list[TrainingResult], list[str], float]:
    """The mode end to end: the cases of `paths` (those of the models named in `only`, if given), run in a
    `training_session` and compared. Returns the results, notes on the `train(...)` calls not run, and the wall time
    in seconds."""
    t0 = time.perf_counter()
    cases, notes = training_cases(paths)
    cases = [c for c in cases if only is None or c.case.written in only]
    by_name = {b.name: b for b in backends}
    with training_session(list(by_name.values()), device, call_timeout, cache_dir) as session:
        session.start()
        if reference not in session.available():
            why = session.targets[reference].why if reference in session.targets else "not a target of the run"
            return [TrainingResult(c.name, n, "skip", detail=f"the reference {reference}: {why}") for c in cases for n in by_name], \
                notes, time.perf_counter() - t0
        results = run_same_training(session, cases, by_name, reference, seed, done)
    return results, notes, time.perf_counter() - t0
