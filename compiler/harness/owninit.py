"""The own-initialisation check (`d2lc test --own-init`): every target trains a chapter's model from its *own*
initialisers (the language's default initialisation, which each backend spells with its framework's API), under
several seeds, and the final losses and accuracies must have the same distribution as the reference's.

The same training run (harness/sametrain.py) loads one set of parameters everywhere, so it cannot see an initialiser
that draws from the wrong distribution; here nothing is loaded: for seed s each target seeds its own generator
(`d2lc_seeded` of the backend's harness glue), builds the model, and runs the chapter's `train(...)` on the same data
(traindata.py, one data seed). Per model, target and quantity (the last epoch's training loss, validation loss and
validation accuracy) the target's N values are compared with the reference's N by an exact two-sample permutation
test of the difference of means (`permutation_p`): under the null hypothesis (both sets of runs are draws from one
distribution, the seeds exchangeable) its p-value is uniform over the splits, so a quantity fails by chance with
probability at most ALPHA, whatever the distribution (docs/equivalence.md, "Own initialisation").
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from d2lc.emit.backend import Backend
from d2lc.harness.sametrain import TrainingCase, _key, _start, training_cases, training_module_source, training_session
from d2lc.harness.traindata import BATCH, EPOCHS, TRAIN_BATCHES, VAL_EXAMPLES
from d2lc.harness.canonical import activation_to_native

ALPHA = 1e-3  # the false-alarm rate of one quantity's test (three per model and target: at most 3e-3 together)
SEEDS = 8  # seeds per target: with 8 and 8 the smallest two-sided p-value is 2 / C(16, 8) = 1.6e-4 < ALPHA
QUANTITIES = ("train loss", "val loss", "val acc")
EXACT_LIMIT = 200_000  # splits enumerated exactly; beyond, a seeded Monte Carlo sample of as many


@dataclass
class OwnInitResult:
    case: str
    target: str
    status: str  # pass | FAIL | error | skip | reference
    p_values: dict[str, float] = field(default_factory=dict)
    means: dict[str, tuple[float, float]] = field(default_factory=dict)  # quantity -> (target's, reference's)
    seconds: float = 0.0
    detail: str = ""


def permutation_p(a: list[float], b: list[float]) -> float:
    """The two-sided p-value of an exact permutation test of mean(a) - mean(b): the fraction of the splits of the
    pooled values into groups of len(a) and len(b) whose difference of means is at least as large in size (the
    observed split counted). Exact up to EXACT_LIMIT splits, then a seeded Monte Carlo estimate."""
    pooled = np.asarray(list(a) + list(b), np.float64)
    n, total = len(a), pooled.sum()
    observed = abs(pooled[:n].mean() - pooled[n:].mean())
    m = len(pooled) - n
    if m == 0 or n == 0:
        return 1.0
    exact = math.comb(n + m, n) <= EXACT_LIMIT
    if exact:
        idx = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(len(pooled)), n)), int).reshape(-1, n)
    else:
        rng = np.random.default_rng(0)
        idx = np.argsort(rng.random((EXACT_LIMIT, len(pooled))), axis=1)[:, :n]
    first = pooled[idx].sum(axis=1)
    extreme = int(np.sum(np.abs(first / n - (total - first) / m) >= observed - 1e-12 * max(1.0, abs(observed))))
    # exact: the observed split is among the enumerated ones; sampled: it is counted once more, (k + 1) / (B + 1),
    # so that the estimate is itself a valid p-value
    return extreme / len(idx) if exact else (extreme + 1) / (len(idx) + 1)


def _run(session, tc: TrainingCase, backend: Backend, data, seed: int) -> dict[str, float] | str:
    """One target's run from its own initialisers under `seed`: the last epoch's quantities, or an error."""
    from d2lc.harness.client import CallFailed, WorkerError
    from d2lc.harness.models import error_headline
    X, y, Xv, yv = (activation_to_native(a, backend.layouts) for a in data)
    try:
        losses, val, acc = session.worker_for(backend.name).call(
            backend.name, _key(tc), "d2lc_case_own_train",
            [X, y, Xv, yv, BATCH, BATCH * TRAIN_BATCHES, VAL_EXAMPLES, EPOCHS, seed]).value
    except (CallFailed, WorkerError) as exc:
        return error_headline(str(exc))
    return {"train loss": float(losses[-1]), "val loss": float(val[-1]), "val acc": float(acc[-1]) if acc else float("nan")}


def compare(case: str, target: str, got: list[dict[str, float]], ref: list[dict[str, float]], seconds: float,
            alpha: float = ALPHA) -> OwnInitResult:
    """A target's runs against the reference's: FAIL when any quantity's permutation p-value is below `alpha`."""
    ps, means = {}, {}
    for q in QUANTITIES:
        a, b = [g[q] for g in got], [r[q] for r in ref]
        if all(np.isnan(a + b)):
            continue
        ps[q], means[q] = permutation_p(a, b), (float(np.mean(a)), float(np.mean(b)))
    bad = [q for q, p in ps.items() if p < alpha]
    detail = "; ".join(f"{q}: mean {means[q][0]:.4f} vs {means[q][1]:.4f}, p = {ps[q]:.1e}" for q in ps)
    return OwnInitResult(case, target, "FAIL" if bad else "pass", ps, means, seconds, detail)


def run_own_init(session, cases: list[TrainingCase], backends: dict[str, Backend], reference: str = "pytorch",
                 seeds: int = SEEDS, data_seed: int = 0, alpha: float = ALPHA,
                 source: Callable[[TrainingCase, Backend], str] = training_module_source,
                 done: Callable[[list[OwnInitResult]], None] | None = None) -> list[OwnInitResult]:
    """Every case on every available target, `seeds` runs each (seeds 0..seeds-1), compared with the reference's."""
    results: list[OwnInitResult] = []
    available = set(session.available())
    for tc in cases:
        start = _start(session, tc, data_seed)
        if isinstance(start, str):
            out = [OwnInitResult(tc.name, n, "skip", detail=start) for n in backends]
        else:
            data, _ = start
            runs = [b for n, b in backends.items() if n in available]

            def all_seeds(b: Backend) -> tuple[list[dict[str, float]] | str, float]:
                t0 = time.perf_counter()
                try:
                    session.worker_for(b.name).add_module(b.name, _key(tc), source(tc, b))
                except Exception as exc:  # noqa: BLE001 - an emission or load failure is this target's error
                    return f"cannot load: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", 0.0
                got = []
                for s in range(seeds):
                    one = _run(session, tc, b, data, s)
                    if isinstance(one, str):
                        return f"seed {s}: {one}", time.perf_counter() - t0
                    got.append(one)
                return got, time.perf_counter() - t0

            outputs = dict(zip([b.name for b in runs], session.pool.map(all_seeds, runs)))
            ref = outputs.get(reference, ("not available", 0.0))[0]
            out = []
            for name in backends:
                got, seconds = outputs.get(name, (None, 0.0))
                if got is None:
                    out.append(OwnInitResult(tc.name, name, "skip", detail=session.targets[name].why or "not available"))
                elif isinstance(got, str):
                    out.append(OwnInitResult(tc.name, name, "error", seconds=seconds, detail=got))
                elif name == reference:
                    means = {q: (float(np.mean([g[q] for g in got])),) * 2 for q in QUANTITIES}
                    out.append(OwnInitResult(tc.name, name, "reference", means=means, seconds=seconds, detail="; ".join(
                        f"{q}: mean {m[0]:.4f}, sd {np.std([g[q] for g in got], ddof=1):.4f}" for q, m in means.items())))
                elif isinstance(ref, str):
                    out.append(OwnInitResult(tc.name, name, "skip", seconds=seconds, detail=f"no reference runs: {ref}"))
                else:
                    out.append(compare(tc.name, name, got, ref, seconds, alpha))
        results.extend(out)
        if done is not None:
            done(out)
    return results


def report_lines(results: list[OwnInitResult]) -> list[str]:
    return [f"{r.status:5} {r.case} on {r.target}" + (f" ({r.seconds:.1f} s)" if r.seconds else "")
            + (f"\n      {r.detail}" if r.detail else "") for r in results]


def own_init(paths: list[Path], backends: list[Backend], reference: str = "pytorch", seeds: int = SEEDS,
             data_seed: int = 0, device: str = "cpu", call_timeout: float = 600.0, only: set[str] | None = None,
             cache_dir: Path | None = None, done: Callable[[list[OwnInitResult]], None] | None = None,
             ) -> tuple[list[OwnInitResult], float]:
    """The mode end to end (the cases of `paths`, those of the models in `only` if given); results and wall seconds."""
    t0 = time.perf_counter()
    cases, _ = training_cases(paths)
    cases = [c for c in cases if only is None or c.case.written in only]
    by_name = {b.name: b for b in backends}
    with training_session(list(by_name.values()), device, call_timeout, cache_dir) as session:
        session.start()
        if reference not in session.available():
            return [OwnInitResult(c.name, n, "skip", detail=f"the reference {reference} is not available")
                    for c in cases for n in by_name], time.perf_counter() - t0
        results = run_own_init(session, cases, by_name, reference, seeds, data_seed, done=done)
    return results, time.perf_counter() - t0
