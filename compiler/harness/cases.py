"""From chapter files to test cases: compile, add gradient wrappers, and emit a module per target."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from d2lc.core import ir
from d2lc.emit.backend import Backend
from d2lc.core.diagnostics import CompileError
from d2lc.build.checked import compile_chapter
from d2lc.build.modgen import function_module_source, testable_functions, unrecomputed_reads
from d2lc.core.types import DType, ScalarType, TensorType, Type
from d2lc.harness.analysis import Domain, analyze, float_items
from d2lc.harness.strategies import ParamSpec, drawable, param_specs

_SHORT = {DType.float32: "f32", DType.float64: "f64", DType.int32: "i32", DType.int64: "i64", DType.bool: "bool"}


COTANGENT = "__d2lc_cot"  # the extra parameter of gradient wrappers: weights of the output's sum


@dataclass
class Row:
    """One line of the matrix: a function's output, or its gradient with respect to one parameter."""

    function: str  # the function's name as the chapter's author wrote it (what reports show)
    wrt: str | None  # None for the output itself; else the parameter's name as written
    callee: str  # the name called in the generated module
    expected: Type  # the IR's declared type of what `callee` returns
    weighted: bool = False  # the callee takes the cotangent after the function's own parameters

    @property
    def label(self) -> str:
        return self.function if self.wrt is None else f"{self.function} d/d{self.wrt}"


@dataclass
class FunctionCase:
    chapter: "Chapter"
    fdef: ir.FuncDef
    specs: list[ParamSpec]
    rows: list[Row]
    only: tuple[str, ...] | None = None  # targets the function's cell is for
    notes: list[str] = field(default_factory=list)
    skip: str = ""  # why no target runs the function (its first note), or "" when they do
    written: str = ""  # the author's name of the function, when the compiler renamed it (`sum` -> `sum_`)

    @property
    def name(self) -> str:
        """The function's name as the author wrote it; `fdef.name` is the one emitted code uses."""
        return self.written or self.fdef.name

    @property
    def params(self) -> list[str]:
        return [p.name for p in self.fdef.params]

    def args_for(self, row: Row, args: dict) -> list:
        """The positional arguments of a row's callee, from one drawn example."""
        return [args[n] for n in self.params] + ([args[COTANGENT]] if row.weighted else [])


@dataclass
class Chapter:
    path: str
    key: str  # a short id naming the chapter's module in the workers
    module: ir.Module | None = None
    error: str | None = None  # the chapter does not compile
    cases: list[FunctionCase] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # target -> generated module
    emit_errors: dict[str, dict[str, str]] = field(default_factory=dict)  # target -> function -> why
    effective: dict[str, Callable[[DType], DType]] = field(default_factory=dict)


def grad_name(function: str, param: str) -> str:
    return f"__grad_{function}__{param}"


def type_text(t: Type) -> str:
    """A type as DSL annotation text (`f32[n, k]`, `int`)."""
    if isinstance(t, TensorType):
        return f"{_SHORT[t.dtype]}[{', '.join(str(d) for d in t.shape)}]"
    return t.kind if isinstance(t, ScalarType) else str(t)


def cotangent_type(f: ir.FuncDef) -> TensorType | None:
    """The type of the weights for f's output, if the output's shape can be spelt in f's parameter symbols."""
    t = f.result
    if not isinstance(t, TensorType) or not t.dtype.is_float:
        return None
    symbols = {d for p in f.params if isinstance(p.type, TensorType) for d in p.type.shape if isinstance(d, str)}
    if all(isinstance(d, int) or isinstance(d, str) and d in symbols for d in t.shape):
        return t
    return None


def grad_wrapper(f: ir.FuncDef, wrt: str, written: Callable[[str], str] = str) -> str:
    """DSL source of the gradient of a weighted sum of f's output, with f's own parameter annotations.

    The source is compiled with the chapter, so it spells f and its parameters as the author did
    (`written` maps an emitted name back, e.g. `sum_` -> `sum`); the compiler then renames them alike.

    `grad((f(...) * w).sum(), X)` with random weights w (drawn like any parameter) is a full
    vector-Jacobian product: unlike the plain sum, it does not vanish for normalising functions
    (softmax, layer and batch norm), whose plain sum is constant. When the output's shape cannot
    be written in the parameters' symbols, the plain sum is used.
    """
    params = ", ".join(f"{written(p.name)}: {type_text(p.type)}" for p in f.params)
    args = ", ".join(written(p.name) for p in f.params)
    name, wrt = written(f.name), written(wrt)
    items = float_items(f.result)
    if items:  # a tuple result: the gradient of the sum of its float tensors' sums
        total = " + ".join(f"out[{i}].sum()" for i in items)
        return f"def {grad_name(name, wrt)}({params}):\n    out = {name}({args})\n    return grad({total}, {wrt})\n"
    cot = cotangent_type(f)
    if cot is None:
        return f"def {grad_name(name, wrt)}({params}):\n    return grad({name}({args}).sum(), {wrt})\n"
    return (f"def {grad_name(name, wrt)}({params}, {COTANGENT}: {type_text(cot)}):\n"
            f"    return grad(({name}({args}) * {COTANGENT}).sum(), {wrt})\n")


def author_spelling(module: ir.Module) -> Callable[[str], str]:
    """Maps a name of the emitted code back to the author's (`sum_` -> `sum`); others map to themselves."""
    back = {new: old for old, new in module.renamed.items()}
    return lambda name: back.get(name, name)


def _with_cell(text: str, code: str) -> str:
    return text.rstrip("\n") + "\n\n```d2l\n" + code + "```\n"


def _first_message(exc: CompileError) -> str:
    d = exc.diagnostics[0] if exc.diagnostics else None
    return f"{d.loc}: {d.message}" if d is not None else str(exc)


def load_chapter(path: Path, known_targets: set[str]) -> Chapter:
    """Compile a chapter with gradient wrappers for every differentiable (function, float input)."""
    text = path.read_text(encoding="utf-8")
    chapter = Chapter(str(path), hashlib.sha1(str(path).encode()).hexdigest()[:10])
    try:
        module = compile_chapter(text, str(path), known_targets)
    except CompileError as exc:
        chapter.error = _first_message(exc)
        return chapter
    facts = analyze(module)
    written = author_spelling(module)
    functions = [f for f in testable_functions(module) if not f.name.startswith("__grad_")]
    wanted = {(f.name, p): grad_wrapper(f, p, written) for f in functions for p in facts[f.name].grad_params}
    failed: dict[tuple[str, str], str] = {}
    final = module
    if wanted:
        try:
            final = compile_chapter(_with_cell(text, "\n".join(wanted.values())), str(path), known_targets)
        except CompileError:
            for key, code in wanted.items():  # find which wrappers the compiler rejects
                try:
                    compile_chapter(_with_cell(text, code), str(path), known_targets)
                except CompileError as exc:
                    failed[key] = _first_message(exc)
            kept = [c for k, c in wanted.items() if k not in failed]
            try:
                final = compile_chapter(_with_cell(text, "\n".join(kept)), str(path), known_targets) if kept else module
            except CompileError as exc:
                failed.update({k: _first_message(exc) for k in wanted})
                final = module
    chapter.module = final
    only = {s.name: cell.only for cell in final.cells for s in cell.stmts if isinstance(s, ir.FuncDef)}
    for f in functions:
        fdef = final.functions[f.name]
        specs = param_specs(fdef, facts[f.name].domains)
        cot = cotangent_type(fdef)
        if cot is not None and facts[f.name].grad_params:
            specs.append(ParamSpec(COTANGENT, cot, salt=0.7071067811))
        case = FunctionCase(chapter, fdef, specs, [Row(written(f.name), None, f.name, fdef.result)], only.get(f.name),
                            written=written(f.name))
        if not drawable(specs):
            case.skip = "parameters of types the harness cannot draw"
        elif reads := unrecomputed_reads(final, fdef):
            names = ", ".join(f"`{written(n)}`" for n in reads)
            case.skip = (f"reads the chapter's {names}, which a function module cannot compute again (a random draw, "
                         "data or a layer); the notebook comparison checks the calls the chapter makes")
        if case.skip:
            case.notes.append(case.skip)
        for p in facts[f.name].grad_params:
            if (f.name, p) in failed:
                case.notes.append(f"no gradient row for `{written(p)}`: the gradient wrapper does not compile ({failed[(f.name, p)]})")
                continue
            wrapper_name = grad_name(written(f.name), written(p))
            wrapper = final.functions[final.renamed.get(wrapper_name, wrapper_name)]
            case.rows.append(Row(written(f.name), written(p), wrapper.name, wrapper.result,
                                 weighted=len(wrapper.params) > len(fdef.params)))
        chapter.cases.append(case)
    return chapter


def emit_for(chapter: Chapter, backend: Backend) -> None:
    """The chapter's function module for one target; functions that fail to emit are recorded, the rest kept."""
    assert chapter.module is not None
    module = chapter.module
    set_effective(chapter, backend)
    errors: dict[str, str] = {}
    try:
        chapter.sources[backend.name] = function_module_source(module, backend)
    except Exception:
        parts = []
        for s in module.stmts():
            if not isinstance(s, ir.FuncDef):
                continue
            try:
                parts.append(function_module_source(module, backend, only={s.name}))
            except Exception as exc:  # EmitError, or a bug in a rule: either way this function has no code
                errors[s.name] = _emit_message(exc)
        chapter.sources[backend.name] = "\n\n".join(parts)
    # A function that calls one without code cannot run either.
    calls = {s.name: {e.func for e in ir.walk_exprs(s.body) if isinstance(e, ir.CallFunc)}
             for s in module.stmts() if isinstance(s, ir.FuncDef)}
    changed = True
    while changed:
        changed = False
        for name, callees in calls.items():
            bad = next((c for c in callees if c in errors), None)
            if name not in errors and bad is not None:
                errors[name] = f"calls `{bad}`, which does not compile for {backend.name}: {errors[bad]}"
                changed = True
    chapter.emit_errors[backend.name] = errors


def set_effective(chapter: Chapter, backend: Backend) -> None:
    """The dtypes `backend` computes in for the chapter's IR dtypes (JAX without x64: int64 -> int32)."""
    assert chapter.module is not None
    effective = getattr(backend.emitter(backend, chapter.module), "effective", None)
    chapter.effective[backend.name] = effective if callable(effective) else (lambda d: d)


def _emit_message(exc: Exception) -> str:
    d = getattr(exc, "diagnostic", None)
    if d is not None:
        return f"{d.loc}: {d.message}" + (f" ({d.hint})" if d.hint else "")
    return f"{type(exc).__name__}: {exc}"


__all__ = ["Chapter", "FunctionCase", "Row", "load_chapter", "emit_for", "grad_wrapper", "grad_name", "Domain"]
