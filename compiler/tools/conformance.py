"""`d2lc conformance TARGET`: how complete and how correct one backend is, in one report.

    coverage     every IR op of `d2lc.core.ops.SPECS` has a rule. An op without one, or declared
                 `Unsupported("TODO: ...")` (what `d2lc new-target` writes), is missing and fails;
                 `Unsupported("reason")` is a deliberate gap: listed, not failed.
    goldens      exact expected code (goldens.py), from two places: the target's ```python TARGET blocks
                 of tests/goldens.md, and `goldens.md` in the backend's own folder (so a backend adds
                 goldens without editing Python). Every other shared golden snippet must compile.
    reference    every ```d2l example of docs/dsl.md compiles for the target.
    chapters     every chapter under sources/ compiles for the target.
    equivalence, models
                 the numerical checks against PyTorch, when the harness is installed (numeric.py).

Exit status: 0 when nothing failed (skipped steps don't fail), 1 otherwise. The command line is
d2lc/cli/conformance.py.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from d2lc.emit.backend import Backend, get_backend
from d2lc.tools.goldens import (SHARED_GOLDENS, GoldenCase, backend_dir, compile_error, d2l_blocks, emit_snippet,
                               read_goldens)
from d2lc.tools.numeric import check_equivalence, check_models
from d2lc.tools.report import Step, diff, find_in_repo, print_step, shown

MODEL_HOOKS = ("model_def", "train", "layer", "param_decl", "construct")


def declared_gap(message: str, backend: Backend) -> bool:
    """Whether a compile error is a gap the backend declares, not a bug: a construct it does not implement
    (`model definitions is not supported by target `x``), or an op it marks `Unsupported("reason")`."""
    suffix = f"is not supported by target `{backend.name}`"
    if not message.endswith(suffix):
        return False
    if not message.startswith("op `"):
        return True
    op = message[len("op `"):].split("`", 1)[0]
    return op in missing_ops(backend)[1]


def missing_ops(backend: Backend) -> tuple[list[str], dict[str, str]]:
    """(ops with no rule or a TODO, {op: reason} for ops the backend declares it cannot express)."""
    from d2lc.emit.base import GENERIC
    from d2lc.emit.rules import Unsupported
    from d2lc.core.ops import SPECS
    missing, declared = [], {}
    for op in SPECS:
        if op in GENERIC:
            continue
        rule = backend.ops.get(op)
        if rule is None or isinstance(rule, Unsupported) and (not rule.why or rule.why.startswith("TODO")):
            missing.append(op)
        elif isinstance(rule, Unsupported):
            declared[op] = rule.why
    return missing, declared


def check_coverage(backend: Backend) -> Step:
    from d2lc.core.ops import SPECS
    step = Step("coverage")
    covered = sum(1 for op in SPECS if backend.supports(op))
    missing, declared = missing_ops(backend)
    step.summary = f"{covered} of {len(SPECS)} IR ops"
    if missing:
        step.fail(f"missing ({len(missing)}): " + ", ".join(missing))
        step.details.append(f"  fill these in {where(backend)}ops.py (the rule vocabulary is in d2lc/emit/rules.py)")
    for op, why in declared.items():
        step.details.append(f"declared unsupported: {op} ({why})")
    from d2lc.emit.base import Emitter
    absent = [h for h in MODEL_HOOKS if getattr(backend.emitter, h, None) is getattr(Emitter, h, None)]
    if absent:
        step.details.append(f"models: not implemented ({backend.emitter.__name__} does not override "
                            + ", ".join(absent) + "); chapters with `model` blocks need `::: only`")
    return step


def check_goldens(backend: Backend, shared: Path | None, own: Path | None) -> Step:
    from d2lc.core.diagnostics import CompileError
    from d2lc.emit.base import EmitError
    step = Step("goldens")
    exact = matched = compiled = total = must_fail = 0
    cases: list[GoldenCase] = []
    if shared is not None and shared.exists():
        for case in read_goldens(shared, shown(shared)):
            case.expected = case.by_target.get(backend.name)  # the other targets' blocks: compile only
            cases.append(case)
    if own is not None and own.exists():
        for case in read_goldens(own, shown(own)):
            case.expected = case.expected_for(backend.name)
            cases.append(case)
    for case in cases:
        total += 1
        try:
            got = emit_snippet(case.dsl, backend)
            error = None
        except CompileError as exc:
            got, error = None, exc.diagnostics[0].message if exc.diagnostics else str(exc)
        except EmitError as exc:
            got, error = None, exc.diagnostic.message
        if case.error is not None:
            exact += 1
            must_fail += 1
            if error is not None and case.error in error:
                matched += 1
            else:
                step.fail(f"{case.origin} ({case.name}): expected an error containing {case.error!r}, got "
                          + (repr(error) if error else "no error"))
            continue
        if error is not None:
            step.fail(f"{case.origin} ({case.name}): does not compile: {error}")
            continue
        compiled += 1
        if case.expected is not None:
            exact += 1
            if got == case.expected:
                matched += 1
            else:
                step.fail(f"{case.origin} ({case.name}): emitted code differs\n" + diff(case.expected, got))
    sources = [shown(p) for p in (shared, own) if p is not None and p.exists()]
    if not total:
        step.status, step.summary = "skip", "no golden snippets found"
        return step
    step.summary = (f"{compiled} of {total - must_fail} snippets compile; {matched} of {exact} expected outputs"
                    f"{' and errors' if must_fail else ''} match ({', '.join(sources)})")
    if not exact:
        step.details.append(f"no expected outputs for `{backend.name}` yet: add sections to {where(backend)}goldens.md")
    return step


def check_reference(backend: Backend, doc: Path | None) -> Step:
    step = Step("reference")
    if doc is None or not doc.exists():
        step.status, step.summary = "skip", "docs/dsl.md not found"
        return step
    blocks = d2l_blocks(doc)
    ok, gaps = 0, []
    for line, code in blocks:
        error = compile_error(code, backend)
        if error is None:
            ok += 1
        elif declared_gap(error, backend):
            gaps.append(f"{shown(doc)}:{line}: {error}")
        else:
            step.fail(f"{shown(doc)}:{line}: {error}")
    step.summary = f"{ok} of {len(blocks)} examples of {shown(doc)} compile" + (
        f" ({len(gaps)} use what the target declares unsupported)" if gaps else "")
    step.details.extend(f"declared gap: {g}" for g in gaps)
    return step


def check_chapters(backend: Backend, sources: Path | None) -> Step:
    from d2lc.build.compile import build, find_chapters
    step = Step("chapters")
    if sources is None or not sources.exists():
        step.status, step.summary = "skip", "no sources/ folder"
        return step
    with tempfile.TemporaryDirectory() as tmp:
        result = build([sources], [backend], Path(tmp))
    chapters = find_chapters([sources])
    step.summary = f"{len(chapters) - len(result.errors)} of {len(chapters)} chapters in {sources} compile"
    for file, diags in result.errors.items():
        for d in diags:
            step.fail(f"{d.loc}: {d.message}")
    return step


def where(backend: Backend) -> str:
    """The backend's folder, as a prefix for the files it should edit."""
    d = backend_dir(backend.name)
    return shown(d) + "/" if d is not None else ""


def run(name: str, *, sources: Path | None = None, equivalence: bool = True, examples: int = 10,
        out=print) -> int:
    """Run every check for one target and print the report; returns the exit status."""
    backend = get_backend(name)
    chapters = sources if sources is not None else find_in_repo("sources")
    own = backend_dir(backend.name)
    out(f"d2lc conformance {backend.name} ({backend.display_name}; backend folder {shown(own) if own else '?'})")
    steps = [check_coverage(backend),
             check_goldens(backend, find_in_repo(SHARED_GOLDENS), own / "goldens.md" if own else None),
             check_reference(backend, find_in_repo("docs/dsl.md")),
             check_chapters(backend, chapters)]
    for step in steps:
        print_step(step, out)
    if equivalence:
        step = check_equivalence(backend, examples, sources, out=out)
        print_step(step, out)
        steps.append(step)
        step = check_models(backend, chapters)
        print_step(step, out)
        steps.append(step)
    failed = [s.name for s in steps if s.status == "FAIL"]
    out("")
    out(f"d2lc conformance {backend.name}: " + (f"FAILED ({', '.join(failed)})" if failed else "ok"))
    return 1 if failed else 0
