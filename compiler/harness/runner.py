"""The equivalence run: for every function, hypothesis draws inputs, every target computes, the verdicts fill a matrix."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, assume, given, seed, settings
from hypothesis.errors import HypothesisException

from ..backend import Backend
from .cases import Chapter, FunctionCase, Row, emit_for, load_chapter
from .client import CallFailed, WorkerError
from .compare import Verdict, check_type, compare_values
from .replay import save_example
from .session import Session
from .strategies import Example, examples

PASS, FAIL, SKIP, ERROR = "pass", "FAIL", "skip", "error"


@dataclass
class Cell:
    """What one target did for one row over all examples."""

    compared: int = 0  # examples that ran and were checked
    failed: bool = False
    errored: bool = False
    skipped: str = ""  # why the target did not run this row
    max_abs: float = 0.0
    max_rel: float = 0.0
    message: str = ""
    detail: str = ""  # a traceback, when there is one
    example: Example | None = None  # the (shrunk) input of the failure
    npz: str | None = None
    replay: str | None = None

    @property
    def status(self) -> str:
        if self.failed:
            return FAIL
        if self.errored:
            return ERROR
        if self.skipped or not self.compared:
            return SKIP
        return PASS


@dataclass
class RowResult:
    chapter: str
    row: Row
    cells: dict[str, Cell]
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.row.label


@dataclass
class TargetTiming:
    calls: int = 0
    roundtrip_s: float = 0.0
    compute_s: float = 0.0


@dataclass
class RunResult:
    seed: int
    examples: int
    device: str
    reference: str
    targets: list[str]
    target_notes: dict[str, str]  # target -> why it was skipped, or its device/versions
    rows: list[RowResult] = field(default_factory=list)
    chapter_errors: dict[str, str] = field(default_factory=dict)
    timings: dict[str, Any] = field(default_factory=dict)
    target_timing: dict[str, TargetTiming] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {PASS: 0, FAIL: 0, SKIP: 0, ERROR: 0}
        for r in self.rows:
            for c in r.cells.values():
                out[c.status] += 1
        return out

    @property
    def ok(self) -> bool:
        c = self.counts()
        return not c[FAIL] and not c[ERROR] and not self.chapter_errors


class NoSuchFunction(LookupError):
    """--function names no testable function in the given chapters."""


class Mismatch(AssertionError):
    """Raised inside the hypothesis test so that hypothesis shrinks the input."""


@dataclass
class _Outcome:
    invalid: str | None = None  # every target raised: the input is outside the function's domain
    failures: list[tuple[Row, str]] = field(default_factory=list)  # cells that failed on this input


@dataclass
class _Result:
    kind: str  # "ok" | "raised" | "died"
    value: Any = None
    message: str = ""
    traceback: str = ""


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
            h.update(np.ascontiguousarray(v).tobytes())
        else:
            h.update(f"{name}={type(v).__name__}:{v!r}".encode())
    return h.hexdigest()


class Runner:
    """Runs the equivalence matrix for a set of backends against a reference backend."""

    def __init__(self, backends: list[Backend], reference: str = "pytorch", examples: int = 10, seed: int = 0,
                 device: str = "cpu", call_timeout: float = 60.0, reports_dir: Path = Path("reports"),
                 shrink_budget: int = 60, progress: Callable[[int, int, str], None] | None = None,
                 cli_prefix: str = "d2lc test", cache_dir: Path | None = None):
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
        self.session: Session | None = None
        self.result: RunResult | None = None
        self.last_outputs: dict[tuple[str, str], Any] = {}  # (target, callee) -> output of the last input run
        self.cases_by_row: dict[int, FunctionCase] = {}

    # ---- the whole run --------------------------------------------------------------------------------
    def run(self, paths: list[Path], replay: tuple[str, Example] | None = None) -> RunResult:
        """Test every function of the chapters under `paths`; with `replay` (function, input), just that one input."""
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
                              "worker_restarts": sum(w.stats.restarts for w in session.workers.values())}
            return result
        finally:
            session.close()

    def _prepare(self, paths: list[Path]) -> tuple[list[Chapter], float, float]:
        """Compile the chapters while the workers import their frameworks; emit a module per target."""
        import threading
        from ..backend import target_names
        session = self.session
        assert session is not None
        known = {b.name for b in self.backends} | set(target_names())
        starter = threading.Thread(target=session.start, name="d2lc-harness-start")
        starter.start()
        chapters = [load_chapter(p, known) for p in chapter_files(paths)]
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
                    emit_for(ch, b)
                    session.worker_for(b.name).add_module(b.name, ch.key, ch.sources[b.name])
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
        """All rows of one function: hypothesis draws inputs (or `example` is replayed) and shrinks failures."""
        assert self.session is not None and self.result is not None
        rows = [RowResult(case.chapter.path, r, {b.name: Cell() for b in self.backends}, list(case.notes) if r.wrt is None else [])
                for r in case.rows]
        self.cases_by_row.update({id(r): case for r in case.rows})
        active = self._active(case, rows)
        state = _CaseState()
        if example is not None:
            outcome = self._evaluate(case, rows, active, example, state)
            if outcome.invalid:
                self._all_raised(case, rows, outcome.invalid)
            return rows
        if not any(active.values()):
            return rows
        strategy = examples(case.specs)

        @settings(max_examples=self.examples, database=None, deadline=None, derandomize=False, report_multiple_bugs=False,
                  suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                  phases=[Phase.explicit, Phase.generate, Phase.shrink])
        @seed(_case_seed(self.seed, case))
        @given(strategy)
        def test(ex: Example) -> None:
            key = example_key(ex)
            if key in state.cache:
                outcome = state.cache[key]
                self._point_failures_at(rows, outcome, ex)
            else:
                if state.failed and state.evaluations_since_failure >= self.shrink_budget:
                    assume(False)  # shrink budget spent: keep what we have
                outcome = self._evaluate(case, rows, active, ex, state)
                state.cache[key] = outcome
                if state.failed:
                    state.evaluations_since_failure += 1
            if outcome.invalid:
                state.invalid = outcome.invalid
                assume(False)
            if outcome.failures:
                state.failed = True
                raise Mismatch("; ".join(m for _, m in outcome.failures))

        try:
            test()
        except Mismatch:
            pass
        except HypothesisException as exc:  # Unsatisfiable: every input was outside the domain
            if state.invalid:
                self._all_raised(case, rows, state.invalid)
            else:
                rows[0].notes.append(f"hypothesis: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        self._save_failures(case, rows)
        return rows

    def _active(self, case: FunctionCase, rows: list[RowResult]) -> dict[str, list[Row]]:
        """Target -> rows it runs for this case; cells of the others say why they don't."""
        assert self.session is not None
        active: dict[str, list[Row]] = {}
        ch = case.chapter
        for b in self.backends:
            info = self.session.targets[b.name]
            todo: list[Row] = []
            for rr in rows:
                cell = rr.cells[b.name]
                if not info.available:
                    cell.skipped = info.why or "not available"
                elif case.only is not None and b.name not in case.only:
                    cell.skipped = f"the function's cell is only for {', '.join(case.only)}"
                elif case.notes and "cannot draw" in " ".join(case.notes):
                    cell.skipped = case.notes[0]
                elif rr.row.callee in ch.emit_errors.get(b.name, {}):
                    cell.errored, cell.message = True, "does not compile: " + ch.emit_errors[b.name][rr.row.callee]
                else:
                    todo.append(rr.row)
            active[b.name] = todo
        return active

    def _evaluate(self, case: FunctionCase, rows: list[RowResult], active: dict[str, list[Row]], ex: Example,
                  state: "_CaseState") -> _Outcome:
        """Run every active (target, row) on one input and judge the results."""
        assert self.session is not None and self.result is not None
        session = self.session
        args = ex.ordered(case.params)
        by_worker: dict[str, list[tuple[str, Row]]] = {}
        for target, todo in active.items():
            if target in state.disabled or not todo:
                continue
            env = session.targets[target].backend.environment.name
            by_worker.setdefault(env, []).extend((target, r) for r in todo)

        def run_worker(env: str) -> dict[tuple[str, str], _Result]:
            worker = session.workers[env]
            out: dict[tuple[str, str], _Result] = {}
            dead: set[str] = set()
            for target, row in by_worker[env]:
                if target in dead:
                    continue
                timing = self.result.target_timing.setdefault(target, TargetTiming())
                try:
                    reply = worker.call(target, case.chapter.key, row.callee, args)
                    timing.calls += 1
                    timing.roundtrip_s += reply.roundtrip_s
                    timing.compute_s += reply.header.get("compute_s", 0.0)
                    out[(target, row.callee)] = _Result("ok", reply.value)
                except CallFailed as exc:
                    out[(target, row.callee)] = _Result("raised", message=str(exc), traceback=exc.traceback)
                except WorkerError as exc:
                    out[(target, row.callee)] = _Result("died", message=str(exc))
                    dead.add(target)
            return out

        results: dict[tuple[str, str], _Result] = {}
        for part in session.pool.map(run_worker, list(by_worker)):
            results.update(part)
        self.last_outputs = {k: (r.value if r.kind == "ok" else r) for k, r in results.items()}
        return self._judge(case, rows, ex, results, state)

    def _judge(self, case: FunctionCase, rows: list[RowResult], ex: Example, results: dict[tuple[str, str], _Result],
               state: "_CaseState") -> _Outcome:
        ref = self.reference
        forward = rows[0].row.callee
        ran = [r for (t, c), r in results.items() if c == forward]
        if ran and all(r.kind == "raised" for r in ran):
            return _Outcome(invalid=ran[0].message)  # outside the function's domain everywhere: not a finding
        outcome = _Outcome()
        for rr in rows:
            row = rr.row
            ref_res = results.get((ref, row.callee))
            for target, cell in rr.cells.items():
                res = results.get((target, row.callee))
                if res is None:
                    continue
                if res.kind == "died":
                    cell.errored, cell.message, cell.example = True, res.message.splitlines()[0], ex
                    cell.detail = res.message
                    state.disabled.add(target)  # a crashing or hanging target is not run again for this function
                    continue
                if res.kind == "raised":
                    cell.errored, cell.message, cell.detail, cell.example = True, "raised " + res.message, res.traceback, ex
                    outcome.failures.append((row, f"{target}: {res.message}"))
                    continue
                verdict = Verdict()
                why = check_type(res.value, row.expected, ex.dims, case.chapter.effective.get(target, lambda d: d))
                if why:
                    verdict.fail(why)
                if target != ref:
                    if ref_res is None or ref_res.kind != "ok":
                        if verdict.ok:
                            continue  # nothing to compare with
                    else:
                        verdict.absorb(compare_values(res.value, ref_res.value))
                cell.compared += 1
                cell.max_abs = max(cell.max_abs, verdict.max_abs)
                cell.max_rel = max(cell.max_rel, verdict.max_rel)
                if not verdict.ok:
                    cell.failed, cell.message, cell.example, cell.detail = True, verdict.message, ex, ""
                    outcome.failures.append((row, f"{target}: {verdict.message}"))
        return outcome

    def _point_failures_at(self, rows: list[RowResult], outcome: _Outcome, ex: Example) -> None:
        """A cached failure replayed by hypothesis (its final, shrunk example): remember that input."""
        for row, message in outcome.failures:
            target, _, text = message.partition(": ")
            for rr in rows:
                if rr.row is row and target in rr.cells:
                    cell = rr.cells[target]
                    cell.example = ex
                    cell.message = text if cell.failed else "raised " + text

    def _all_raised(self, case: FunctionCase, rows: list[RowResult], message: str) -> None:
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
                cell.replay = (f"{self.cli_prefix} {case.chapter.path} --targets={target} --reference={self.reference} "
                               f"--device={self.device} --replay {path} --function {case.name}")


@dataclass
class _CaseState:
    cache: dict[str, _Outcome] = field(default_factory=dict)
    failed: bool = False
    evaluations_since_failure: int = 0
    invalid: str | None = None
    disabled: set[str] = field(default_factory=set)


def _case_seed(run_seed: int, case: FunctionCase) -> int:
    digest = hashlib.sha256(f"{run_seed}:{case.chapter.path}:{case.name}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


__all__ = ["Runner", "RunResult", "RowResult", "Cell", "Chapter", "PASS", "FAIL", "SKIP", "ERROR"]
