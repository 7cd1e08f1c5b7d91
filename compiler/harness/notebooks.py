"""Whole-notebook differential testing: run every generated notebook and compare what it computes.

Each chapter is compiled for every target; each target's notebook runs (with small parameters) in
that environment's long-lived worker (`nbexec.run_notebook`), which records every top-level value
a statement binds and every printed value. The records are compared with the reference target's:
deterministic values under the dtype-aware tolerances of `compare.py`; values that depend on
chance (see `determinism.py`) by dtype and shape only. Top-level tensors are canonical (NCHW) on
every target: the emitters convert at model boundaries. A divergence names the chapter, the
cell, the source line and the variable.
"""
from __future__ import annotations

import ast
import json
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from d2lc.core import ir
from d2lc.emit.backend import Backend
from d2lc.core.diagnostics import CompileError
from d2lc.emit.base import EmitError
from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import emit_indexed_cells
from d2lc.build.sampledata import data_env
from d2lc.core.types import DType
from d2lc.harness.client import CallFailed, WorkerError
from d2lc.harness.compare import compare_values
from d2lc.harness.determinism import Analysis, PrintSite, analyse
from d2lc.harness.session import Session

NBEXEC_SOURCE = Path(__file__).with_name("nbexec.py").read_text(encoding="utf-8")

# A notebook's `parameters` cell is followed by these overrides where it sets them (papermill-style).
SMALL_PARAMETERS = {"epochs": 2, "num_epochs": 2, "batch_size": 32, "num_train": 256, "num_val": 128}


@dataclass
class PlannedCell:
    """One code cell of a target's notebook, as the worker runs it."""

    ir_index: int | None  # the chapter cell it comes from (None: the setup cell)
    source: str
    filename: str
    record: list[str]  # names the chapter binds in this cell
    sites: dict[int, PrintSite] = field(default_factory=dict)  # generated line of a print -> the chapter's print


@dataclass
class Program:
    """A chapter compiled for the notebook comparison: its IR, analysis, and each target's cells."""

    path: str
    module: ir.Module
    analysis: Analysis
    cells: dict[str, list[PlannedCell]] = field(default_factory=dict)
    effective: dict[str, Any] = field(default_factory=dict)
    emit_errors: dict[str, str] = field(default_factory=dict)
    text: str = ""  # the chapter's source


@dataclass
class Outcome:
    """What one target's notebook did: its records, or where it failed."""

    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # each: cell (index into the planned cells), line, message
    seconds: float = 0.0


@dataclass
class Divergence:
    chapter: str
    cell: int  # 1-based number among the chapter's code cells
    line: int
    variable: str
    target: str
    message: str

    @property
    def key(self) -> str:
        return f"{Path(self.chapter).as_posix()}:{self.line} {self.variable}"

    def __str__(self) -> str:
        return f"{self.chapter}:{self.line}: cell {self.cell}, `{self.variable}` on {self.target}: {self.message}"


@dataclass
class NotebookReport:
    divergences: list[Divergence] = field(default_factory=list)
    compared: int = 0  # values compared (bindings and printed values, per non-reference target)
    by_value: int = 0  # of which by value (the rest by dtype and shape)
    notebooks: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # target -> time in its worker
    skipped: dict[str, str] = field(default_factory=dict)  # target -> why


# ---- planning ----------------------------------------------------------------------------------------
def with_small_parameters(source: str, overrides: dict[str, Any]) -> str:
    names = {line.split("=")[0].strip() for line in source.splitlines() if "=" in line}
    extra = "\n".join(f"{k} = {v!r}" for k, v in overrides.items() if k in names)
    return source + ("\n" + extra if extra else "")


def _print_calls(tree: ast.Module, chapter_names: set[str]) -> list[int]:
    """Lines of `print(...)` calls in generated code, outside helper functions the emitter added."""
    lines: list[int] = []

    def visit(node: ast.AST, top: bool) -> None:
        if top and isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name not in chapter_names:
            return  # a helper (train, fashion_mnist, ...): its prints are its log, not the chapter's
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            lines.append(node.lineno)
        for child in ast.iter_child_nodes(node):
            visit(child, False)

    for stmt in tree.body:
        visit(stmt, True)
    return sorted(lines)


def plan(module: ir.Module, backend: Backend, analysis: Analysis, overrides: dict[str, Any]) -> list[PlannedCell]:
    chapter_names = set(module.functions) | {s.name for s in module.stmts() if isinstance(s, (ir.FuncDef, ir.ModelDef))}
    out: list[PlannedCell] = []
    for kind, source, _, tags, index in emit_indexed_cells(module, backend):
        if kind != "code":
            continue
        if "parameters" in tags:
            source = with_small_parameters(source, overrides)
        filename = f"<{Path(module.path).name} {backend.name} cell {len(out)}>"
        record = sorted({b.name for b in analysis.bindings.get(index, [])}) if index is not None else []
        cell = PlannedCell(index, source, filename, record)
        if index is not None:
            sites = analysis.prints.get(index, [])
            if not backend.emitter.printout_is_print:  # `print(net)` is `net.summary()` there
                sites = [site for site in sites if not site.printout]
            calls = _print_calls(ast.parse(source), chapter_names)
            if len(calls) == len(sites):
                cell.sites = {line: site for line, site in zip(calls, sites)}
        out.append(cell)
    return out


def prepare(path: Path, backends: list[Backend], known_targets: set[str],
            overrides: dict[str, Any] | None = None, text: str | None = None) -> Program:
    """Compile a chapter and plan its notebook for every target; raises CompileError."""
    text = path.read_text(encoding="utf-8") if text is None else text
    module = compile_chapter(text, str(path), known_targets)
    program = Program(str(path), module, analyse(module), text=text)
    for b in backends:
        try:
            program.cells[b.name] = plan(module, b, program.analysis, SMALL_PARAMETERS if overrides is None else overrides)
        except EmitError as exc:
            program.emit_errors[b.name] = exc.diagnostic.message
            continue
        effective = getattr(b.emitter(b, module), "effective", None)
        program.effective[b.name] = effective if callable(effective) else (lambda d: d)
    return program


# ---- running -------------------------------------------------------------------------------------------
def _request(program: Program, backend: Backend, cwd: Path, device: str, keep_going: bool) -> str:
    """What the notebook runner runs; each target in its own folder under `cwd` (the targets run at once, and a file
    one writes, `save(x, "x-file")`, is in its own format), all reading the data sets of `cwd/../data`."""
    cells = [{"source": c.source, "filename": c.filename, "record": c.record} for c in program.cells[backend.name]]
    own = cwd / backend.name
    own.mkdir(parents=True, exist_ok=True)
    return json.dumps({"setup": backend.harness.setup, "to_numpy": backend.harness.to_numpy, "device": device,
                       "cwd": str(own), "env": data_env(cwd.parent / "data"), "cells": cells, "keep_going": keep_going})


def run_one(session: Session, name: str, program: Program, key: str, cwd: Path, timeout: float = 600.0,
            keep_going: bool = False) -> Outcome:
    """Run one program's notebook on target `name` in its worker (loaded there as module `key`)."""
    backend = session.targets[name].backend
    worker = session.worker_for(name)
    source = NBEXEC_SOURCE + f"\nREQUEST = {_request(program, backend, cwd, session.targets[name].device, keep_going)!r}\n"
    worker.add_module(name, key, source, filename=f"<nbexec {name} {Path(program.path).name}>")
    t0 = time.perf_counter()
    try:
        reply = worker.call(name, key, "run_notebook", [], timeout=timeout).value
        data = json.loads(str(reply[0]))
        arrays = list(reply[1:])
        out = Outcome([_resolve(e, arrays) for e in data["events"]], data["errors"], data["seconds"])
    except (CallFailed, WorkerError) as exc:
        out = Outcome(errors=[{"cell": None, "line": None, "message": str(exc).splitlines()[0]}])
    out.seconds = out.seconds or time.perf_counter() - t0
    return out


def run_programs(session: Session, programs: list[Program], cwd: Path, timeout: float = 600.0,
                 keep_going: bool = False) -> dict[tuple[str, str], Outcome]:
    """Run every program's notebook on every available target; environments in parallel.

    With `keep_going`, a cell that fails does not stop the cells after it (independent programs
    batched into one notebook)."""
    by_env: dict[str, list[str]] = {}
    for name in session.available():
        by_env.setdefault(session.targets[name].backend.environment.name, []).append(name)

    def run_env(targets: list[str]) -> dict[tuple[str, str], Outcome]:
        results: dict[tuple[str, str], Outcome] = {}
        for name in targets:
            for k, program in enumerate(programs):
                if name in program.cells:
                    results[(program.path, name)] = run_one(session, name, program, f"notebook{k}", cwd, timeout, keep_going)
        return results

    outcomes: dict[tuple[str, str], Outcome] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(by_env))) as pool:
        for part in pool.map(run_env, by_env.values()):
            outcomes.update(part)
    return outcomes


def _resolve(event: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Any]:
    def value(tag: dict[str, Any]) -> Any:
        if "array" in tag:
            return arrays[tag["array"]]
        if "seq" in tag:
            return tuple(value(t) for t in tag["seq"])
        if "float" in tag:
            return float(tag["float"])
        for k in ("int", "bool", "str"):
            if k in tag:
                return tag[k]
        if "none" in tag:
            return None
        return Opaque(tag.get("opaque", "?"), tag)

    out = dict(event)
    if "value" in event:
        out["value"] = value(event["value"])
    if "values" in event:
        out["values"] = [value(v) for v in event["values"]]
    return out


@dataclass
class Opaque:
    """A value that is not data (a model, an optimizer), or an array too large to send."""

    what: str
    tag: dict[str, Any]


# ---- comparing -------------------------------------------------------------------------------------------
def _normal(v: Any) -> Any:
    """Python scalars as 0-d arrays are one kind of value; lists are tuples."""
    if isinstance(v, (list, tuple)):
        return tuple(_normal(i) for i in v)
    return v


def _scalar_array(v: Any) -> Any:
    if isinstance(v, bool):
        return np.asarray(v)
    if isinstance(v, int):
        return np.asarray(v, np.int64)
    if isinstance(v, float):
        return np.asarray(v, np.float32)
    if isinstance(v, tuple):
        return tuple(_scalar_array(i) for i in v)
    return v


def _dtype_name(effective: Any, name: str) -> str:
    try:
        return effective(DType(name)).value
    except ValueError:
        return name


def compare_one(actual: Any, reference: Any, deterministic: bool, effective: Any) -> str | None:
    """Why `actual` (a target's value) disagrees with the reference's, or None."""
    actual, reference = _normal(actual), _normal(reference)
    if isinstance(actual, Opaque) or isinstance(reference, Opaque):
        big = [v.tag for v in (actual, reference) if isinstance(v, Opaque) and v.tag.get("big")]
        if len(big) == 2 and (big[0]["shape"] != big[1]["shape"]):
            return f"shape {tuple(big[0]['shape'])}, the reference has {tuple(big[1]['shape'])}"
        return None  # not data: nothing to compare
    if isinstance(reference, str) or isinstance(actual, str):
        if not deterministic or actual == reference:
            return None
        return f"printed {actual!r}, the reference printed {reference!r}"
    if isinstance(reference, tuple) and isinstance(actual, tuple) and len(actual) == len(reference):
        for i, (a, r) in enumerate(zip(actual, reference)):
            why = compare_one(a, r, deterministic, effective)
            if why:
                return f"[{i}]: {why}"
        return None
    if isinstance(actual, np.ndarray) != isinstance(reference, np.ndarray):
        actual, reference = _scalar_array(actual), _scalar_array(reference)
    if isinstance(actual, np.ndarray) and isinstance(reference, np.ndarray):
        want = _dtype_name(effective, reference.dtype.name)
        if actual.dtype.name != want and actual.dtype.name != reference.dtype.name:
            return f"dtype {actual.dtype.name}, the reference has {reference.dtype.name}"
        if actual.shape != reference.shape:
            return f"shape {tuple(actual.shape)}, the reference has {tuple(reference.shape)}"
        if not deterministic:
            return None
    elif not deterministic:
        return None if type(actual) is type(reference) else f"got a {type(actual).__name__}, the reference a {type(reference).__name__}"
    verdict = compare_values(actual, reference)
    return None if verdict.ok else verdict.message


def _cell_number(program: Program, ir_index: int | None) -> int:
    if ir_index is None:
        return 0
    return 1 + sum(1 for c in program.module.cells[:ir_index] if c.kind == "code")


def _error_text(program: Program, target: str, error: dict[str, Any]) -> str:
    cells = program.cells.get(target, [])
    if error.get("cell") is None or error["cell"] >= len(cells) or not error.get("line"):
        return error["message"]
    lines = cells[error["cell"]].source.splitlines()
    code = lines[error["line"] - 1].strip() if 0 < error["line"] <= len(lines) else ""
    return f"{error['message']} (at generated `{code}`)" if code else error["message"]


def _source_line(program: Program, target: str, error: dict[str, Any]) -> tuple[int, int]:
    """(cell number, chapter line) of a failure in generated code: the cell's first line when no better is known."""
    cells = program.cells.get(target, [])
    if error.get("cell") is None or error["cell"] >= len(cells):
        return 0, 1
    cell = cells[error["cell"]]
    if cell.ir_index is None:
        return 0, 1
    return _cell_number(program, cell.ir_index), program.module.cells[cell.ir_index].line


def compare_program(program: Program, outcomes: dict[str, Outcome], reference: str, report: NotebookReport) -> None:
    """Every target's records against the reference's; divergences go to `report`."""
    ref = outcomes.get(reference)
    for target, why in program.emit_errors.items():
        report.divergences.append(Divergence(program.path, 0, 1, "<compile>", target, why))
    if ref is None:
        return
    for error in ref.errors:
        number, line = _source_line(program, reference, error)
        report.divergences.append(Divergence(program.path, number, line, "<run>", reference, _error_text(program, reference, error)))
    ref_binds, ref_prints = _index(program, reference, ref)
    ref_failed = _failed_chapter_cells(program, reference, ref)
    for target, out in outcomes.items():
        if target == reference:
            continue
        failed = _failed_chapter_cells(program, target, out)
        for error in out.errors:
            if _chapter_cell(program, target, error.get("cell")) not in ref_failed or error.get("cell") is None:
                number, line = _source_line(program, target, error)
                report.divergences.append(Divergence(program.path, number, line, "<run>", target, _error_text(program, target, error)))
        binds, prints = _index(program, target, out)
        effective = program.effective.get(target, lambda d: d)
        for key, ref_values in ref_binds.items():
            values = binds.get(key)
            if values is None:
                continue  # the target stopped earlier (reported above) or bound it elsewhere
            ir_index, name = key
            if len(values) != len(ref_values) and (ir_index in failed or ir_index in ref_failed):
                continue  # a cell that stopped part way: its last values are not the same statement's
            ir_binds = [b for b in program.analysis.bindings.get(ir_index, []) if b.name == name]
            pairs = list(zip(values, ref_values)) if len(values) == len(ref_values) else [(values[-1], ref_values[-1])]
            for k, (a, r) in enumerate(pairs):
                b = ir_binds[k] if len(pairs) == len(ir_binds) else (ir_binds[-1] if ir_binds else None)
                deterministic = b.deterministic if b is not None else False
                report.compared += 1
                report.by_value += deterministic
                why = compare_one(a, r, deterministic, effective)
                if why:
                    report.divergences.append(Divergence(program.path, _cell_number(program, ir_index),
                                                         b.line if b else program.module.cells[ir_index].line, name, target, why))
        for cell, ref_list in ref_prints.items():
            got = prints.get(cell, [])
            if len(got) != len(ref_list):
                if cell not in failed and cell not in ref_failed:
                    site = ref_list[0][0] if ref_list else None
                    report.divergences.append(Divergence(program.path, _cell_number(program, cell), site.line if site else 1,
                                                         "<print>", target, f"{len(got)} prints, the reference made {len(ref_list)}"))
                continue
            for (site, values), (ref_site, ref_vals) in zip(got, ref_list):
                if site is not ref_site and (site is None or ref_site is None or site.line != ref_site.line):
                    report.divergences.append(Divergence(program.path, _cell_number(program, cell), ref_site.line if ref_site else 1,
                                                         "<print>", target, "prints in a different order"))
                    break
                if site is None:
                    continue
                for i, (a, r) in enumerate(zip(values, ref_vals)):
                    deterministic = site.deterministic[i] if i < len(site.deterministic) else False
                    report.compared += 1
                    report.by_value += deterministic
                    why = compare_one(a, r, deterministic, effective)
                    if why:
                        name = f"print[{i}]" if len(values) > 1 else "print"
                        report.divergences.append(Divergence(program.path, _cell_number(program, cell), site.line, name, target, why))


def _chapter_cell(program: Program, target: str, index: int | None) -> int | None:
    cells = program.cells.get(target, [])
    return cells[index].ir_index if index is not None and index < len(cells) else None


def _failed_chapter_cells(program: Program, target: str, out: Outcome) -> set[int | None]:
    return {_chapter_cell(program, target, e.get("cell")) for e in out.errors}


def _index(program: Program, target: str, out: Outcome) -> tuple[dict, dict]:
    """Bindings by (chapter cell, name) and prints by the chapter cell that ran them, in order."""
    cells = program.cells.get(target, [])
    binds: dict[tuple[int, str], list[Any]] = {}
    prints: dict[int, list[tuple[PrintSite | None, list[Any]]]] = {}
    for e in out.events:
        cell = cells[e["cell"]]
        if cell.ir_index is None:
            continue
        if e["kind"] == "bind":
            binds.setdefault((cell.ir_index, e["name"]), []).append(e["value"])
        elif e["kind"] == "print":
            site = None
            if e.get("site") is not None:
                where = cells[e["site"][0]]
                site = where.sites.get(e["site"][1])
                if site is None and not _is_chapter_print(where, e["site"][1]) or site is not None and site.printout:
                    continue  # a helper's log line, or a model's printout (each framework's own text)
            prints.setdefault(cell.ir_index, []).append((site, e["values"]))
    return binds, prints


def _is_chapter_print(cell: PlannedCell, line: int) -> bool:
    """A print the chapter wrote whose site could not be matched (its cell's print count differs)."""
    return cell.ir_index is not None and not cell.sites and line in _print_calls(ast.parse(cell.source), set())


# ---- the whole run ----------------------------------------------------------------------------------------
def fake_data_root() -> Path:
    """A temporary folder with small data sets in the real formats in `data/`, and `nb/` to run in (the
    notebooks' data hub reads ../data: `_request` sets its environment)."""
    from d2lc.build.sampledata import write_sample_data
    root = Path(tempfile.mkdtemp(prefix="d2lc-notebooks-"))
    write_sample_data(root / "data")
    (root / "nb").mkdir()
    return root


def compare_notebooks(session: Session, programs: list[Program], reference: str, cwd: Path,
                      timeout: float = 600.0) -> NotebookReport:
    report = NotebookReport()
    for name, info in session.targets.items():
        if not info.available:
            report.skipped[name] = info.why
    outcomes = run_programs(session, programs, cwd, timeout)
    for program in programs:
        mine = {t: o for (p, t), o in outcomes.items() if p == program.path}
        report.notebooks += len(mine)
        for t, o in mine.items():
            report.seconds[t] = report.seconds.get(t, 0.0) + o.seconds
        if reference not in mine and mine:
            reference_here = sorted(mine)[0]
        else:
            reference_here = reference
        compare_program(program, mine, reference_here, report)
    return report


def prepare_all(paths: list[Path], backends: list[Backend], report: NotebookReport | None = None) -> list[Program]:
    """Programs for every chapter file under `paths` (a chapter that does not compile is reported)."""
    from d2lc.emit.backend import registry
    from d2lc.harness.runner import chapter_files
    known = set(registry()) | {a for b in registry().values() for a in b.aliases}
    programs = []
    for path in chapter_files(paths):
        try:
            programs.append(prepare(path, backends, known))
        except CompileError as exc:
            if report is not None:
                d = exc.diagnostics[0]
                report.divergences.append(Divergence(str(path), 0, d.loc.line, "<compile>", "all", d.message))
    return programs
