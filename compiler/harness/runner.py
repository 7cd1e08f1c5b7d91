"""The equivalence run: for every function, hypothesis draws inputs, every target computes, the verdicts fill a matrix."""
from __future__ import annotations

import hashlib
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, assume, configuration, given, seed, settings
from hypothesis.errors import HypothesisException, UnsatisfiedAssumption

from d2lc.emit.backend import Backend
from d2lc.harness.batches import CallResult, count, run_batches
from d2lc.harness.cases import Chapter, FunctionCase, emit_for
from d2lc.harness.chapter_cache import cached_chapter
from d2lc.harness.client import CallFailed, WorkerError
from d2lc.harness.compare import Verdict, check_type, compare_values, difference, widest
from d2lc.harness.replay import save_example
from d2lc.harness.results import ERROR, FAIL, KNOWN, PASS, SKIP, Cell, RowResult, RunResult, TargetTiming
from d2lc.harness.session import Session
from d2lc.harness.strategies import Example, examples, shape_pool


@contextmanager
def hypothesis_home(cache_dir: Path | None) -> Iterator[None]:
    """Hypothesis keeps its files (e.g. its Unicode tables) under CACHE_DIR/hypothesis, or a temporary folder
    without a cache, never in `.hypothesis/` of the working folder; the previous setting comes back after."""
    previous = configuration.storage_directory(intent_to_write=False).home_directory
    with tempfile.TemporaryDirectory(prefix="d2lc-hypothesis-") as scratch:
        configuration.set_hypothesis_home_dir(Path(cache_dir).resolve() / "hypothesis" if cache_dir is not None else scratch)
        try:
            yield
        finally:
            configuration.set_hypothesis_home_dir(previous)


class NoSuchFunction(LookupError):
    """--function names no testable function in the given chapters."""


class Mismatch(AssertionError):
    """Raised inside the hypothesis test so that hypothesis shrinks the input."""


def chapter_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*.md") if q.is_file()))
        elif p.exists():
            out.append(p)
    return out


def example_key(ex: Example) -> str:
    h = hashlib.sha256()
    h.update(repr(sorted(ex.dims.items())).encode())
    for name in sorted(ex.args):
        v = ex.args[name]
        if isinstance(v, np.ndarray):
            h.update(f"{name}:{v.dtype.str}:{v.shape}".encode())
            h.update(v.tobytes())
        else:
            h.update(f"{name}={type(v).__name__}:{v!r}".encode())
    return h.hexdigest()


class Runner:
    """Runs the equivalence matrix for a set of backends against a reference backend."""

    def __init__(self, backends: list[Backend], reference: str, examples: int = 10, seed: int = 0,
                 device: str = "cpu", call_timeout: float = 60.0, reports_dir: Path = Path("reports"),
                 shrink_budget: int = 60, progress: Callable[[int, int, str], None] | None = None,
                 cli_prefix: str = "d2lc test", cache_dir: Path | None = None, shapes: str = "pool", batch: bool = True):
        names = [b.name for b in backends]
        if reference not in names:
            raise ValueError(f"the reference target `{reference}` is not among the targets ({', '.join(names)})")
        self.backends = backends
        self.reference = reference
        self.examples = examples
        self.seed = seed
        self.device = device
        self.call_timeout = call_timeout
        self.reports_dir = reports_dir
        self.shrink_budget = shrink_budget
        self.progress = progress or (lambda i, n, label: None)
        self.cli_prefix = cli_prefix
        self.cache_dir = cache_dir
        self.batch = batch  # run the drawn inputs of a function in one request per target (else one per input)
        self.pool = shape_pool(seed) if shapes == "pool" else None
        self.session: Session | None = None
        self.result: RunResult | None = None
        self.last_outputs: dict[tuple[str, str], Any] = {}  # (target, callee) -> output of the last input run
        self.cases_by_row: dict[int, FunctionCase] = {}
        self._runnable: set[tuple[str, str]] = set()

    # ---- the whole run --------------------------------------------------------------------------------
    def run(self, paths: list[Path], replay: tuple[str, Example] | None = None) -> RunResult:
        """Test every function of the chapters under `paths`; with `replay` (function, input), just that one input."""
        with hypothesis_home(self.cache_dir):
            return self._run_all(paths, replay)

    def _run_all(self, paths: list[Path], replay: tuple[str, Example] | None) -> RunResult:
        t0 = time.perf_counter()
        self.session = session = Session(self.backends, self.device, self.call_timeout, cache_dir=self.cache_dir)
        try:
            chapters, t_compile, t_start = self._prepare(paths)
            result = self.result
            assert result is not None
            t_emit = time.perf_counter()
            cases = [c for ch in chapters for c in ch.cases]
            if replay is not None:
                cases = [c for c in cases if c.name == replay[0]]
                if not cases:
                    raise NoSuchFunction(f"no testable function `{replay[0]}` in {', '.join(str(p) for p in paths)}")
                cases = cases[:1]
            for i, case in enumerate(cases):
                self.progress(i, len(cases), f"{Path(case.chapter.path).name}:{case.name}")
                result.rows.extend(self.run_case(case, replay[1] if replay else None))
            self.progress(len(cases), len(cases), "done")
            t_end = time.perf_counter()
            result.timings = {"total_s": t_end - t0, "compile_s": t_compile - t0, "startup_wait_s": t_start - t_compile,
                              "emit_s": t_emit - t_start, "examples_s": t_end - t_emit, "functions": len(cases),
                              "worker_restarts": sum(w.stats.restarts for t in session.workers for w in session.workers_of(t))}
            return result
        except BaseException as exc:
            if not isinstance(exc, Exception):
                session.kill()  # interrupted: workers may be mid-call
            raise
        finally:
            session.close()

    def _prepare(self, paths: list[Path]) -> tuple[list[Chapter], float, float]:
        """Compile the chapters while the workers import their frameworks; emit a module per target."""
        import threading
        from d2lc.emit.backend import target_names
        session = self.session
        assert session is not None
        known = {b.name for b in self.backends} | set(target_names())
        starter = threading.Thread(target=session.start, name="d2lc-harness-start")
        starter.start()
        chapters = [cached_chapter(p, known, self.backends, self.cache_dir) for p in chapter_files(paths)]
        t_compile = time.perf_counter()
        starter.join()
        t_start = time.perf_counter()
        result = self.result = RunResult(self.seed, self.examples, self.device, self.reference,
                                         [b.name for b in self.backends], self._target_notes())
        for ch in chapters:
            if ch.error:
                result.chapter_errors[ch.path] = ch.error
                continue
            for b in self.backends:
                if session.targets[b.name].available:
                    if b.name not in ch.sources:
                        emit_for(ch, b)
                    for worker in session.workers_of(b.name):
                        worker.add_module(b.name, ch.key, ch.sources[b.name], filename=f"<{b.name} code of {ch.path}>")
        return chapters, t_compile, t_start

    def _target_notes(self) -> dict[str, str]:
        assert self.session is not None
        notes = {}
        for name, info in self.session.targets.items():
            if info.available:
                versions = ", ".join(f"{p} {v}" for p, v in info.versions.items() if v)
                notes[name] = f"{info.device}" + (f"; {versions}" if versions else "")
            else:
                notes[name] = info.why or "not available"
        return notes

    # ---- one function ------------------------------------------------------------------------------------
    def run_case(self, case: FunctionCase, example: Example | None = None) -> list[RowResult]:
        """All rows of one function: hypothesis draws inputs (or `example` is replayed) and shrinks failures.

        Hypothesis stops at the first failing input, so a failure in one cell would leave the other
        targets with few examples. Failed cells are therefore dropped from what makes hypothesis fail,
        and it runs again (same seed: inputs already run are answered from the cache) until no cell
        fails anew.
        """
        assert self.session is not None and self.result is not None
        rows = [RowResult(case.chapter.path, r, {b.name: Cell() for b in self.backends}, list(case.notes) if r.wrt is None else [])
                for r in case.rows]
        self.cases_by_row.update({id(r): case for r in case.rows})
        state = _CaseState(tracked=self._active(case, rows))
        if example is not None:
            try:
                self._step(case, rows, example, state)
            except UnsatisfiedAssumption:
                pass
            if state.invalid:
                self._all_raised(rows, state.invalid)
            return rows
        strategy = examples(case.specs, self.pool)

        def judge(ex: Example) -> None:
            failures = self._step(case, rows, ex, state)
            if failures:
                state.failed = True
                raise Mismatch("; ".join(failures))

        test = self._hypothesis_test(case, strategy, judge, shrink=True)
        if self.batch:
            self._prefetch(case, strategy, state)
        valid = False
        while state.tracked:
            state.failed, state.since_failure = False, 0
            try:
                test()
                valid = True
            except Mismatch:
                valid = True
            except HypothesisException as exc:  # Unsatisfiable: every input was outside the domain
                if not state.invalid:
                    rows[0].notes.append(f"hypothesis: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            done = {c for c in state.tracked if self._cell(rows, *c).status in (FAIL, ERROR) or c[0] in state.disabled}
            if not state.failed or not done:
                break
            state.tracked -= done
        if not valid and state.invalid:
            self._all_raised(rows, state.invalid)
        self._save_failures(case, rows)
        return rows

    def _hypothesis_test(self, case: FunctionCase, strategy: Any, body: Callable[[Example], None],
                         shrink: bool) -> Callable[[], None]:
        """The hypothesis test of a function: its seed, this run's settings, `body` run on each drawn input."""
        phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])

        @settings(max_examples=self.examples, database=None, deadline=None, derandomize=False, report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet, phases=phases)
        @seed(_case_seed(self.seed, case))
        @given(strategy)
        def test(ex: Example) -> None:
            body(ex)

        return test

    def _prefetch(self, case: FunctionCase, strategy: Any, state: "_CaseState") -> None:
        """Run the inputs hypothesis will draw first in one request per target, all targets in parallel.

        The same seed and settings draw the same inputs again in the judging pass, which then finds their
        results in `state.results`; an input it draws that is not there (a shrunk one) runs on its own.
        A worker that dies or hangs ends its batch: that input and the ones after it run on their own too,
        so a crash is reported exactly as without the batch."""
        assert self.session is not None and self.result is not None
        drawn: dict[str, Example] = {}
        try:
            self._hypothesis_test(case, strategy, lambda ex: drawn.setdefault(example_key(ex), ex) and None,
                                  shrink=False)()
        except HypothesisException:
            pass  # e.g. Unsatisfiable: the judging pass says so
        if not drawn:
            return
        needed = {c for c in state.tracked if c[0] not in state.disabled}
        needed |= {(self.reference, callee) for _, callee in needed if (self.reference, callee) in self._runnable}
        by_target: dict[str, list[str]] = {}
        for target, callee in sorted(needed):
            by_target.setdefault(target, []).append(callee)
        for key, cells in run_batches(self.session, case, drawn, by_target, self.result.target_timing).items():
            state.results.setdefault(key, {}).update(cells)

    @staticmethod
    def _cell(rows: list[RowResult], target: str, callee: str) -> Cell:
        return next(rr.cells[target] for rr in rows if rr.row.callee == callee)

    def _active(self, case: FunctionCase, rows: list[RowResult]) -> set[tuple[str, str]]:
        """The (target, callee) cells to run for this case; cells of the others say why they don't run."""
        assert self.session is not None
        active: set[tuple[str, str]] = set()
        ch = case.chapter
        for b in self.backends:
            info = self.session.targets[b.name]
            for rr in rows:
                cell = rr.cells[b.name]
                if not info.available:
                    cell.skipped = info.why or "not available"
                elif case.only is not None and b.name not in case.only:
                    cell.skipped = f"the function's cell is only for {', '.join(case.only)}"
                elif case.skip:
                    cell.skipped = case.skip
                elif rr.row.callee in ch.emit_errors.get(b.name, {}):
                    cell.errored, cell.message = True, "does not compile: " + ch.emit_errors[b.name][rr.row.callee]
                else:
                    active.add((b.name, rr.row.callee))
        for rr in rows:  # without a reference output a target can only fail its type checks, never pass
            if (self.reference, rr.row.callee) not in active:
                why = rr.cells[self.reference].skipped or rr.cells[self.reference].message or "unavailable"
                for target, cell in rr.cells.items():
                    if target != self.reference and not cell.skipped:
                        cell.skipped = f"no reference output ({self.reference}: {why})"
        self._runnable = set(active)
        return active

    def _step(self, case: FunctionCase, rows: list[RowResult], ex: Example, state: "_CaseState") -> list[str]:
        """One input: run what is not yet known for it, judge it, and return the failures of tracked cells."""
        key = example_key(ex)
        results = state.results.setdefault(key, {})
        needed = {c for c in state.tracked if c[0] not in state.disabled}
        rows_needed = {callee for _, callee in needed}
        needed |= {(self.reference, callee) for callee in rows_needed
                   if (self.reference, callee) in self._runnable and self.reference not in state.disabled}
        todo = sorted(c for c in needed if c not in results)
        if todo:
            if state.failed and state.since_failure >= self.shrink_budget:
                assume(False)  # shrink budget spent: keep the smallest failure found so far
            results.update(self._call(case, ex, todo))
            if state.failed:
                state.since_failure += 1
        # Only what this input was asked for counts (a prefetched batch may hold more: cells no longer tracked).
        requested = state.requested.setdefault(key, set())
        requested |= {c for c in needed if c in results}
        known = {c: results[c] for c in requested}
        self.last_outputs = {k: (r.value if r.kind == "ok" else r) for k, r in known.items()}
        forward = rows[0].row.callee
        ran = [r for (t, c), r in known.items() if c == forward]
        if ran and all(r.kind == "raised" for r in ran):
            state.invalid = ran[0].message  # outside the function's domain in every target: not a finding
            assume(False)
            return []
        verdicts = state.verdicts.setdefault(key, {})
        for cell_key in sorted(known):
            if cell_key not in verdicts:
                verdict = self._judge(case, rows, ex, known, cell_key, state)
                if verdict is not _DEFER:
                    verdicts[cell_key] = verdict
        failures = []
        for cell_key, message in verdicts.items():
            if message is not None and cell_key in state.tracked:
                cell = self._cell(rows, *cell_key)
                cell.example = ex  # hypothesis replays the shrunk input last: the cell keeps that one
                failures.append(f"{cell_key[0]}: {message}")
        return failures

    def _call(self, case: FunctionCase, ex: Example, todo: list[tuple[str, str]]) -> dict[tuple[str, str], CallResult]:
        """Run (target, callee) pairs on one input: each target's worker in its own thread."""
        assert self.session is not None and self.result is not None
        session = self.session
        callees = {r.callee: r for r in case.rows}
        by_worker: dict[str, list[tuple[str, str]]] = {}
        for target, callee in todo:
            by_worker.setdefault(target, []).append((target, callee))

        def run_worker(env: str) -> dict[tuple[str, str], CallResult]:
            worker = session.workers[env]
            out: dict[tuple[str, str], CallResult] = {}
            dead: set[str] = set()
            for target, callee in by_worker[env]:
                if target in dead:
                    continue
                timing = self.result.target_timing.setdefault(target, TargetTiming())
                try:
                    reply = worker.call(target, case.chapter.key, callee, case.args_for(callees[callee], ex.args),
                                        jit=True)
                    count(timing, reply)
                    out[(target, callee)] = CallResult("ok", reply.value)
                except CallFailed as exc:
                    out[(target, callee)] = CallResult("raised", message=str(exc), traceback=exc.traceback)
                except WorkerError as exc:
                    out[(target, callee)] = CallResult("died", message=str(exc))
                    dead.add(target)
            return out

        results: dict[tuple[str, str], CallResult] = {}
        for part in session.pool.map(run_worker, list(by_worker)):
            results.update(part)
        return results

    def _judge(self, case: FunctionCase, rows: list[RowResult], ex: Example, known: dict[tuple[str, str], CallResult],
               cell_key: tuple[str, str], state: "_CaseState"):
        """Judge one cell on one input: None if it passed, the failure message, or _DEFER (no reference yet)."""
        target, callee = cell_key
        ref = self.reference
        res = known[cell_key]
        rr = next(r for r in rows if r.row.callee == callee)
        cell = rr.cells[target]
        if res.kind == "died":
            cell.errored, cell.message, cell.detail, cell.example = True, res.message.splitlines()[0], res.message, ex
            state.disabled.add(target)  # a crashing or hanging target is not run again for this function
            return res.message.splitlines()[0]
        if res.kind == "raised":
            cell.errored, cell.message, cell.detail, cell.example = True, "raised " + res.message, res.traceback, ex
            return "raised " + res.message
        verdict = Verdict()
        why = check_type(res.value, rr.row.expected, ex.dims, case.chapter.effective.get(target, lambda d: d))
        if why:
            verdict.fail(why)
        if target != ref:
            ref_res = known.get((ref, callee))
            if ref_res is None and (ref, callee) in self._runnable and ref not in state.disabled:
                return _DEFER
            if ref_res is not None and ref_res.kind == "ok":
                values = compare_values(res.value, ref_res.value)
                if not values.ok and not why:
                    noise = self._noise_floor(case, ex, callee, ref_res.value, state)
                    if noise is not None:
                        values = compare_values(res.value, ref_res.value, noise=noise)
                verdict.absorb(values)
            elif verdict.ok:
                return None  # nothing to compare with (the reference failed here)
        cell.compared += 1
        cell.max_abs = max(cell.max_abs, verdict.max_abs)
        cell.max_rel = max(cell.max_rel, verdict.max_rel)
        if verdict.ok:
            return None
        cell.failed, cell.message, cell.example, cell.detail = True, verdict.message, ex, ""
        return verdict.message

    def _noise_floor(self, case: FunctionCase, ex: Example, callee: str, ref_value: Any, state: "_CaseState") -> Any:
        """How far the reference's output moves when its float inputs move by a few ulps (two tries).

        Frameworks round differently inside a computation; for a well-conditioned function that is
        far below the tolerance, for an ill-conditioned one (cancellation, 1/sqrt(tiny)) it is not.
        Computed only when a comparison fails; None when the reference cannot be rerun.
        """
        key = (example_key(ex), callee)
        if key in state.noise:
            return state.noise[key]
        rng = np.random.default_rng(int(key[0][:8], 16))
        floor = None
        for _ in range(2):
            args = {n: _perturb(v, rng) for n, v in ex.args.items()}
            try:
                out = self._call(case, Example(ex.dims, args), [(self.reference, callee)])[(self.reference, callee)]
            except KeyError:
                out = None
            if out is None or out.kind != "ok":
                floor = None
                break
            floor = widest(floor, difference(out.value, ref_value))
        state.noise[key] = floor
        return floor

    def _all_raised(self, rows: list[RowResult], message: str) -> None:
        cell = rows[0].cells[self.reference]
        cell.errored = True
        cell.message = f"no valid input: every target raised on every drawn input ({message})"

    def _save_failures(self, case: FunctionCase, rows: list[RowResult]) -> None:
        for rr in rows:
            for target, cell in rr.cells.items():
                if cell.example is None or not (cell.failed or cell.errored):
                    continue
                stem = Path(case.chapter.path).stem
                label = case.name + (f".d{rr.row.wrt}" if rr.row.wrt else "")
                path = self.reports_dir / f"{stem}__{label}__{target}.npz"
                save_example(path, case, cell.example, {"chapter": case.chapter.path, "function": case.name,
                                                        "row": rr.row.label, "target": target, "reference": self.reference,
                                                        "seed": self.seed, "message": cell.message})
                cell.npz = str(path)
                cell.replay = (f"{self.cli_prefix} {case.chapter.path} --target={target} --reference={self.reference} "
                               f"--device={self.device} --replay {path} --function {case.name}")


@dataclass
class _CaseState:
    tracked: set[tuple[str, str]]  # (target, callee) cells whose failures make hypothesis shrink
    results: dict[str, dict[tuple[str, str], CallResult]] = field(default_factory=dict)  # input key -> results
    requested: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # input key -> cells asked for it
    verdicts: dict[str, dict[tuple[str, str], str | None]] = field(default_factory=dict)  # input key -> judged cells
    failed: bool = False  # this hypothesis round has found a failure
    since_failure: int = 0  # inputs run since then (the shrink budget)
    invalid: str | None = None
    disabled: set[str] = field(default_factory=set)
    noise: dict[tuple[str, str], Any] = field(default_factory=dict)  # (input key, callee) -> reference's noise floor


_DEFER = object()
PERTURBATION = {np.dtype(np.float32): 2.0 ** -20, np.dtype(np.float64): 2.0 ** -48}


def _perturb(v: Any, rng: np.random.Generator) -> Any:
    """A float input moved by a few units in its last place (ints, bools and shapes unchanged)."""
    if isinstance(v, np.ndarray) and v.dtype in PERTURBATION:
        return (v * (1 + PERTURBATION[v.dtype] * rng.uniform(-1, 1, v.shape))).astype(v.dtype)
    if isinstance(v, float):  # Python floats usually meet float32 tensors
        return v * (1 + PERTURBATION[np.dtype(np.float32)] * rng.uniform(-1, 1))
    return v


def _case_seed(run_seed: int, case: FunctionCase) -> int:
    """The function's own seed: the run's seed, the chapter's file name and the function's name (not the folder,
    so the same seed draws the same inputs wherever the chapter lies: a clone, a temporary folder)."""
    digest = hashlib.sha256(f"{run_seed}:{Path(case.chapter.path).name}:{case.name}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


__all__ = ["Runner", "RunResult", "RowResult", "Cell", "Chapter", "PASS", "FAIL", "SKIP", "ERROR", "KNOWN", "NoSuchFunction"]
