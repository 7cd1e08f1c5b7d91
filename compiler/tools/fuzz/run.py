"""The differential fuzzer: generate programs, compile them for every target, run them, compare.

Programs are batched: one hypothesis example is a list of programs, compiled separately (a
program the compiler rejects is a failure: the generator only writes well-typed code), then run
together as one notebook per target in the long-lived workers, with `keep_going` so that one
program's crash does not hide the others. Every value is compared by the notebook comparison
(`d2lc.harness.notebooks`). A failing program is shrunk by hypothesis: its seeded generation run
is replayed (the examples before it pass again without running), and from the failing example on
hypothesis' shrinker runs, within a budget of notebook runs; the result is saved as a chapter.
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from d2lc.emit.backend import Backend, registry
from d2lc.core.diagnostics import CompileError
from d2lc.harness.notebooks import NotebookReport, compare_program, fake_data_root, prepare, run_programs
from d2lc.harness.session import Session
from d2lc.tools.fuzz.programs import Program, programs

KNOWN_TARGETS = set(registry()) | {a for b in registry().values() for a in b.aliases}


@dataclass
class Failure:
    """A program that the compiler rejected, or whose targets disagree."""

    kind: str  # "rejected" | "diverged"
    target: str
    message: str
    chapter: str  # the program as a chapter
    ops: str = ""  # the ops and layers of the failing line (see `fingerprint`)

    @property
    def signature(self) -> str:
        """What makes two failures the same bug: kind, target, the message without names and numbers, the ops."""
        text = re.sub(r"\bp\d*_\w+|\bP\d*m\d+\b", "NAME", self.message)
        text = re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "N", text)
        return f"{self.kind} | {self.target} | {text[:100].strip()} | {self.ops}"


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
    target_seconds: dict[str, float] = field(default_factory=dict)  # time in each target's worker


def renamed(program: Program, k: int) -> list[str]:
    """The program's cells with its names made unique in a batch (p_ -> p7_, Pm3 -> P7m3)."""
    return [re.sub(r"\bPm(\d+)\b", rf"P{k}m\1", re.sub(r"\bp_", f"p{k}_", c)) for c in program.cells]


def fingerprint(chapter: str, line: int) -> str:
    """The ops called on a chapter line (and the layer kinds of the models, if it calls one), sorted."""
    lines = chapter.splitlines()
    code = lines[line - 1] if 0 < line <= len(lines) else ""
    called = set(re.findall(r"\b([A-Za-z_]\w*)\s*\(", code)) | set(re.findall(r"\.([A-Za-z_]\w*)\b", code))
    mine = {n for n in called if re.match(r"p\d*_|P\d*m\d+$", n)}
    ops = called - mine
    for instance in (n for n in mine if re.match(r"p\d*_net", n)):  # a model call: the layers of that model
        made = re.search(rf"\b{instance} = (P\d*m\d+)\(", chapter)
        body = re.search(rf"model {made.group(1)}\(.*?```", chapter, re.S) if made else None
        if body:
            ops |= set(re.findall(r"\b([A-Z][A-Za-z0-9]+)\(", body.group(0))) - {made.group(1)}
    return ",".join(sorted(ops))


class FoundBug(Exception):
    def __init__(self, failures: list[Failure]):
        super().__init__(failures[0].signature)
        self.failures = failures


class Fuzzer:
    """Runs batches of programs on a set of targets; one session (workers) for the whole run."""

    def __init__(self, backends: list[Backend], reference: str = "pytorch", cache_dir: Path | None = None,
                 timeout: float = 600.0, known: set[str] | None = None, kinds: tuple[str, ...] | None = None):
        self.backends = backends
        self.reference = reference
        self.session = Session(backends, cache_dir=cache_dir)
        self.session.start()
        self.root = fake_data_root()
        self.timeout = timeout
        self.known = set(known or ())  # signatures not to shrink again (listed, or already found this run); `*` matches any text
        self._patterns = [re.compile(".*".join(re.escape(part) for part in k.split("*")) + "$") for k in self.known if "*" in k]
        self.stats = FuzzStats()
        self.kinds = kinds  # the statement kinds programs are made of (default: all)
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
        cells = [renamed(p, k) for k, p in enumerate(batch)]
        together = self._prepare(cells)
        if isinstance(together, Failure) or together.emit_errors:
            failures, accepted = self._one_by_one(batch, cells)  # find the programs that do not compile
        else:
            failures, accepted = [], list(enumerate(cells))
            together = together if len(accepted) == len(batch) else None
        if accepted:
            failures.extend(self._run(batch, accepted, together if not failures else None))
        self._cache[key] = failures
        return failures

    def _prepare(self, cells_of: list[list[str]]):
        """The notebook plan of programs as one chapter, or the compile error as a Failure."""
        text = "# Fuzz batch\n\n" + "".join(f"```d2l\n{c}\n```\n\n" for cells in cells_of for c in cells)
        try:
            return prepare(Path("fuzz-batch.md"), self.backends, KNOWN_TARGETS, overrides={}, text=text)
        except CompileError as exc:
            return Failure("rejected", "compiler", exc.diagnostics[0].message, text)

    def _one_by_one(self, batch: list[Program], cells: list[list[str]]) -> tuple[list[Failure], list[tuple[int, list[str]]]]:
        failures: list[Failure] = []
        accepted: list[tuple[int, list[str]]] = []
        for k, program in enumerate(batch):
            alone = self._prepare([cells[k]])
            if isinstance(alone, Failure):
                failures.append(Failure("rejected", "compiler", alone.message, program.chapter()))
            elif alone.emit_errors:  # `check` accepted what a target's emitter refuses
                failures.extend(Failure("rejected", t, f"`<compile>`: {why}", program.chapter())
                                for t, why in sorted(alone.emit_errors.items()))
            else:
                accepted.append((k, cells[k]))
        return failures, accepted

    def _run(self, batch: list[Program], accepted: list[tuple[int, list[str]]], program=None) -> list[Failure]:
        owner: dict[int, int] = {}  # code cell number (1-based) -> program index in the batch
        number = 0
        for k, cells in accepted:
            for _ in cells:
                number += 1
                owner[number] = k
        if program is None:
            program = self._prepare([cells for _, cells in accepted])
            if isinstance(program, Failure):  # each compiled alone; together they must too
                return [Failure("rejected", "compiler", f"batch: {program.message}", batch[accepted[0][0]].chapter())]
        text = program.text
        outcomes = run_programs(self.session, [program], self.root / "nb", self.timeout, keep_going=True)
        report = NotebookReport()
        mine = {t: o for (_, t), o in outcomes.items()}
        for t, o in mine.items():
            self.stats.target_seconds[t] = self.stats.target_seconds.get(t, 0.0) + o.seconds
        compare_program(program, mine, self.reference if self.reference in mine else sorted(mine)[0], report)
        failures: list[Failure] = []
        seen: set[tuple[int, str]] = set()
        for d in report.divergences:
            k = owner.get(d.cell, accepted[0][0])
            if (k, d.target) in seen:
                continue
            seen.add((k, d.target))
            kind = "rejected" if d.variable == "<compile>" else "diverged"  # check accepted what an emitter refused
            failures.append(Failure(kind, d.target, f"`{d.variable}`: {d.message}", batch[k].chapter(),
                                    fingerprint(text, d.line) if d.variable != "<run>" else ""))
        return failures

    # ---- a campaign ----------------------------------------------------------------------------------------
    def run(self, count: int, seed: int, batch: int = 25, shrink_budget: int = 30,
            progress=lambda stats: None, chunk: int = 200, found=lambda failure: None) -> FuzzStats:
        """Try `count` programs, `batch` to a notebook run; shrink and record the first failure of each new signature.

        Programs come from hypothesis, `chunk` per seeded generation run; a failure is shrunk by replaying
        that run (the same seed and the same passing examples before it) with hypothesis' shrinker on."""
        t0 = time.perf_counter()
        c = 0
        while self.stats.programs < count:
            chunk_seed = seed * 1_000_003 + c
            progs = generate(chunk_seed, min(chunk, count - self.stats.programs), self.kinds)
            c += 1
            for start in range(0, len(progs), batch):
                group = progs[start:start + batch]
                failures = self.check(group)
                self._count(group, failures)
                progress(self.stats)
                for f in failures:
                    if self.is_known(f.signature):
                        continue
                    self.known.add(f.signature)
                    index = start + next(k for k, p in enumerate(group) if p.chapter() == f.chapter)
                    small = self.shrink(chunk_seed, len(progs), index, f.signature, shrink_budget) or f
                    self.stats.failures.append(small)
                    found(small)
        self.stats.seconds = time.perf_counter() - t0
        return self.stats

    def is_known(self, signature: str) -> bool:
        return signature in self.known or any(p.match(signature) for p in self._patterns)

    def _count(self, group: list[Program], failures: list[Failure]) -> None:
        self.stats.programs += len(group)
        self.stats.batches += 1
        for p in group:
            for kind in set(p.kinds):
                self.stats.kinds[kind] = self.stats.kinds.get(kind, 0) + 1
        self.stats.rejected += len({f.chapter for f in failures if f.kind == "rejected"})
        self.stats.diverged += len({f.chapter for f in failures if f.kind == "diverged"})
        for f in failures:
            self.stats.seen[f.signature] = self.stats.seen.get(f.signature, 0) + 1

    def shrink(self, chunk_seed: int, count: int, index: int, signature: str, budget: int) -> Failure | None:
        """The smallest program hypothesis finds that fails with `signature`, starting from example `index`."""
        state = {"calls": 0, "failing": False, "runs": 0, "deadline": time.perf_counter() + 15.0 * budget}
        best: list[Failure] = []

        def fails(p: Program) -> Failure | None:
            return next((f for f in self.check([p]) if f.signature == signature), None)

        @hypothesis_seed(chunk_seed)
        @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate, Phase.shrink],
                  suppress_health_check=list(HealthCheck), report_multiple_bugs=False, print_blob=False)
        @given(_strategy(self.kinds))
        def replay(p: Program) -> None:
            state["calls"] += 1
            if not state["failing"] and state["calls"] != index + 1:
                return  # the examples of the first pass, which passed (or are not this failure)
            if state["failing"] and not self._cached([p]):
                if state["runs"] >= budget or time.perf_counter() > state["deadline"]:
                    return  # out of budget: hypothesis keeps the smallest failure found so far
                state["runs"] += 1
                self.stats.shrink_runs += 1
            found = fails(p)
            if found is not None:
                state["failing"] = True
                best.append(found)
                _report([found])

        try:
            replay()
        except FoundBug as bug:
            return bug.failures[0]
        return best[-1] if best else None

    def _cached(self, batch: list[Program]) -> bool:
        return _key(batch) in self._cache


def _strategy(kinds: tuple[str, ...] | None):
    return programs(kinds=kinds) if kinds else programs()


def generate(seed: int, count: int, kinds: tuple[str, ...] | None = None) -> list[Program]:
    """`count` programs from hypothesis, seeded: the same list for the same (seed, count, kinds)."""
    out: list[Program] = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(_strategy(kinds))
    def collect(p: Program) -> None:
        out.append(p)

    collect()
    return out


def _report(failures: list[Failure]) -> None:
    """Raise for new failures, always from here: hypothesis tells bugs apart by where they are raised."""
    if failures:
        raise FoundBug(failures)


def _key(batch: list[Program]) -> str:
    return hashlib.sha1("\0".join("\n".join(p.cells) for p in batch).encode()).hexdigest()


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
