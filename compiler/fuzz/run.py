"""The differential fuzzer: generate programs, compile them for every target, run them, compare.

Programs are batched: one hypothesis example is a list of programs, compiled separately (a
program the compiler rejects is a failure: the generator only writes well-typed code), then run
together as one notebook per target in the long-lived workers, with `keep_going` so that one
program's crash does not hide the others. Every value is compared by the notebook comparison
(`d2lc.harness.notebooks`). A failing batch is shrunk by hypothesis (within a budget of notebook
runs) down to the failing program, which is saved as a chapter in the corpus folder.
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from ..backend import Backend, registry
from ..diagnostics import CompileError
from ..frontend import compile_chapter
from ..harness.notebooks import NotebookReport, compare_program, fake_data_root, prepare, run_programs
from ..harness.session import Session
from .programs import Program, programs

KNOWN_TARGETS = set(registry()) | {a for b in registry().values() for a in b.aliases}


@dataclass
class Failure:
    """A program that the compiler rejected, or whose targets disagree."""

    kind: str  # "rejected" | "diverged"
    target: str
    message: str
    chapter: str  # the program as a chapter

    @property
    def signature(self) -> str:
        """What makes two failures the same bug: kind, target and the message without names and numbers."""
        text = re.sub(r"\bp\d*_\w+|\bP\d*m\d+\b", "NAME", self.message)
        text = re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "N", text)
        return f"{self.kind} | {self.target} | {text[:120]}"


@dataclass
class FuzzStats:
    programs: int = 0  # programs generated and run (shrinking runs not counted)
    rejected: int = 0  # of which the compiler rejected
    diverged: int = 0  # of which some target disagreed (or crashed)
    batches: int = 0
    shrink_runs: int = 0
    seconds: float = 0.0
    failures: list[Failure] = field(default_factory=list)  # the first (shrunk) failure of every new signature
    seen: dict[str, int] = field(default_factory=dict)  # signature -> how many programs hit it
    kinds: dict[str, int] = field(default_factory=dict)  # statement kind -> programs using it


def renamed(program: Program, k: int) -> list[str]:
    """The program's cells with its names made unique in a batch (p_ -> p7_, Pm3 -> P7m3)."""
    return [re.sub(r"\bPm(\d+)\b", rf"P{k}m\1", re.sub(r"\bp_", f"p{k}_", c)) for c in program.cells]


class FoundBug(Exception):
    def __init__(self, failures: list[Failure]):
        super().__init__(failures[0].signature)
        self.failures = failures


class Fuzzer:
    """Runs batches of programs on a set of targets; one session (workers) for the whole run."""

    def __init__(self, backends: list[Backend], reference: str = "pytorch", cache_dir: Path | None = None,
                 timeout: float = 600.0, known: set[str] | None = None):
        self.backends = backends
        self.reference = reference
        self.session = Session(backends, cache_dir=cache_dir)
        self.session.start()
        self.root = fake_data_root()
        self.timeout = timeout
        self.known = set(known or ())  # signatures not to shrink again (listed, or already found this run)
        self.stats = FuzzStats()
        self._cache: dict[str, list[Failure]] = {}

    def close(self) -> None:
        import shutil
        self.session.close()
        shutil.rmtree(self.root, ignore_errors=True)

    # ---- one batch -----------------------------------------------------------------------------------------
    def check(self, batch: list[Program]) -> list[Failure]:
        """Failures of the programs of one batch (cached by text: hypothesis may replay a batch)."""
        key = _key(batch)
        if key in self._cache:
            return self._cache[key]
        failures: list[Failure] = []
        accepted: list[tuple[int, list[str]]] = []
        for k, program in enumerate(batch):
            cells = renamed(program, k)
            text = "# Fuzz\n\n" + "".join(f"```d2l\n{c}\n```\n\n" for c in cells)
            try:
                compile_chapter(text, "fuzz.md", KNOWN_TARGETS)
            except CompileError as exc:
                d = exc.diagnostics[0]
                failures.append(Failure("rejected", "compiler", f"{d.message}", program.chapter()))
                continue
            accepted.append((k, cells))
        if accepted:
            failures.extend(self._run(batch, accepted))
        self._cache[key] = failures
        return failures

    def _run(self, batch: list[Program], accepted: list[tuple[int, list[str]]]) -> list[Failure]:
        owner: dict[int, int] = {}  # code cell number (1-based) -> program index in the batch
        parts = ["# Fuzz batch\n\n"]
        number = 0
        for k, cells in accepted:
            for c in cells:
                number += 1
                owner[number] = k
                parts.append(f"```d2l\n{c}\n```\n\n")
        try:
            program = prepare(Path("fuzz-batch.md"), self.backends, KNOWN_TARGETS, overrides={}, text="".join(parts))
        except CompileError as exc:  # each compiled alone; together they must too
            d = exc.diagnostics[0]
            return [Failure("rejected", "compiler", f"batch: {d.message}", batch[0].chapter())]
        outcomes = run_programs(self.session, [program], self.root / "nb", self.timeout, keep_going=True)
        report = NotebookReport()
        mine = {t: o for (_, t), o in outcomes.items()}
        compare_program(program, mine, self.reference if self.reference in mine else sorted(mine)[0], report)
        failures: list[Failure] = []
        seen: set[tuple[int, str]] = set()
        for d in report.divergences:
            k = owner.get(d.cell, accepted[0][0])
            if (k, d.target) in seen:
                continue
            seen.add((k, d.target))
            kind = "rejected" if d.variable == "<compile>" else "diverged"  # check accepted what an emitter refused
            failures.append(Failure(kind, d.target, f"`{d.variable}`: {d.message}", batch[k].chapter()))
        return failures

    # ---- a campaign ----------------------------------------------------------------------------------------
    def run(self, count: int, seed: int, batch: int = 25, shrink_budget: int = 40,
            progress=lambda stats: None) -> FuzzStats:
        """Try `count` programs (in batches); shrink and record each failure of a new signature."""
        t0 = time.perf_counter()
        chunk = 0
        while self.stats.programs < count:
            left = count - self.stats.programs
            try:
                self._campaign(seed + 7919 * chunk, min(batch, left), -(-left // batch), shrink_budget, progress)
            except FoundBug as bug:
                for f in bug.failures:
                    if f.signature not in self.known:
                        self.known.add(f.signature)
                        self.stats.failures.append(f)
            chunk += 1
        self.stats.seconds = time.perf_counter() - t0
        return self.stats

    def _campaign(self, seed: int, batch: int, batches: int, shrink_budget: int, progress) -> None:
        state: dict = {"index": None, "runs": 0, "deadline": 0.0}

        @hypothesis_seed(seed)
        @settings(max_examples=batches, database=None, deadline=None, phases=[Phase.generate, Phase.shrink],
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False, print_blob=False)
        @given(st.lists(programs(), min_size=batch, max_size=batch))
        def trial(progs: list[Program]) -> None:
            if state["index"] is not None:
                # Shrinking: only the program that failed matters; a batch whose program at that index is
                # unchanged is answered from the cache, so shrinking the others costs nothing.
                one = [progs[state["index"]]]
                if not self._cached(one):
                    if state["runs"] >= shrink_budget or time.perf_counter() > state["deadline"]:
                        return  # out of budget: hypothesis keeps the smallest failure found so far
                    state["runs"] += 1
                    self.stats.shrink_runs += 1
                _report([f for f in self.check(one) if f.signature not in self.known])
                return
            failures = self.check(progs)
            self.stats.programs += len(progs)
            self.stats.batches += 1
            for p in progs:
                for kind in set(p.kinds):
                    self.stats.kinds[kind] = self.stats.kinds.get(kind, 0) + 1
            self.stats.rejected += len({f.chapter for f in failures if f.kind == "rejected"})
            self.stats.diverged += len({f.chapter for f in failures if f.kind == "diverged"})
            for f in failures:
                self.stats.seen[f.signature] = self.stats.seen.get(f.signature, 0) + 1
            progress(self.stats)
            new = [f for f in failures if f.signature not in self.known]
            if new:
                state["index"] = next(k for k, p in enumerate(progs) if p.chapter() == new[0].chapter)
                state["deadline"] = time.perf_counter() + 20.0 * shrink_budget
                one = [progs[state["index"]]]
                _report([f for f in self.check(one) if f.signature not in self.known])  # alone, it must fail too

        trial()

    def _cached(self, batch: list[Program]) -> bool:
        return _key(batch) in self._cache


def _key(batch: list[Program]) -> str:
    return hashlib.sha1("\0".join("\n".join(p.cells) for p in batch).encode()).hexdigest()


def _report(failures: list[Failure]) -> None:
    """Raise for new failures, always from here: hypothesis tells bugs apart by where they are raised."""
    if failures:
        raise FoundBug(failures)


def save_case(failure: Failure, folder: Path) -> Path:
    """Write a failing program as a corpus chapter named after its signature; returns the path."""
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(failure.chapter.encode()).hexdigest()[:8]
    path = folder / f"fuzz_{failure.target}_{digest}.md"
    body = failure.chapter.split("\n", 2)[2] if failure.chapter.startswith("# ") else failure.chapter
    path.write_text(f"# Fuzzer case: {failure.kind} on {failure.target}\n\n"
                    f"Found by `d2lc fuzz` and shrunk by hypothesis. {failure.message.splitlines()[0]}\n\n{body}",
                    encoding="utf-8")
    return path
