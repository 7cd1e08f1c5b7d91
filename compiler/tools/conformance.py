"""`d2lc conformance TARGET`: how complete and how correct one backend is, in one report.

    coverage     every IR op of `d2lc.core.ops.SPECS` has a rule. An op without one, or declared
                 `Unsupported("TODO: ...")` (what `d2lc new-target` writes), is missing and fails;
                 `Unsupported("reason")` is a deliberate gap: listed, not failed.
    goldens      exact expected code, from two places: the target's keyword in the `validate_all`
                 calls of tests/test_golden.py, and `goldens.md` in the backend's own folder (so a
                 backend adds goldens without editing Python). Every other golden snippet must compile.
    reference    every ```d2l example of docs/dsl.md compiles for the target.
    chapters     every chapter under sources/ compiles for the target.
    equivalence  `d2lc test --target=TARGET --reference=pytorch`, when the harness is installed; only
                 rows the reference passes count against the target.
    models       every model of the chapters, loaded with the same parameters as in PyTorch
                 (converted to the target's declared layouts): forward, gradients, SGD and Adam steps.

Exit status: 0 when nothing failed (skipped steps don't fail), 1 otherwise.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from d2lc.emit.backend import ENTRY_POINT_GROUP, Backend, get_backend, registry, target_names

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_HOOKS = ("model_def", "train", "layer", "param_decl", "construct")


# ---- golden cases ----------------------------------------------------------------------------
@dataclass
class GoldenCase:
    name: str
    dsl: str
    expected: str | None = None  # the exact code the target emits (without the import cell)
    error: str | None = None  # or: a substring of the error compiling it must give
    origin: str = ""  # file:line, for messages


def chapter_text(dsl: str) -> str:
    """A one-cell chapter around a DSL snippet."""
    return "# Test\n\n```d2l\n" + textwrap.dedent(dsl).strip("\n") + "\n```\n"


def known_targets() -> set[str]:
    return set(registry()) | {a for b in registry().values() for a in b.aliases}


def emit_snippet(dsl: str, backend: Backend) -> str:
    """The code `backend` emits for one DSL cell, without the import/setup cell. Raises CompileError/EmitError."""
    from d2lc.passes.pipeline import compile_chapter
    from d2lc.build.notebook import emit_cells
    module = compile_chapter(chapter_text(dsl), "snippet.md", known_targets())
    cells = [src for kind, src, seed in emit_cells(module, backend) if kind == "code" and seed != "<setup>"]
    return "\n\n".join(cells)


def compile_error(dsl: str, backend: Backend) -> str | None:
    """None when the snippet compiles for `backend`, else the first error message."""
    from d2lc.core.diagnostics import CompileError
    from d2lc.emit.base import EmitError
    try:
        emit_snippet(dsl, backend)
    except CompileError as exc:
        return exc.diagnostics[0].message if exc.diagnostics else str(exc)
    except EmitError as exc:
        return exc.diagnostic.message
    return None


def read_goldens(path: Path, shown: str | None = None) -> list[GoldenCase]:
    """Cases of a goldens.md file: each `## name` section holds a ```d2l block, then a ```python block
    with the exact expected code, or an ```error block with a substring of the expected error."""
    cases: list[GoldenCase] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    name, start, i = None, 0, 0
    blocks: dict[str, str] = {}

    def flush() -> None:
        if name is not None and "d2l" in blocks:
            cases.append(GoldenCase(name, blocks["d2l"], blocks.get("python"), blocks.get("error"), f"{shown or path}:{start}"))

    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            flush()
            name, start, blocks = line[3:].strip(), i + 1, {}
        elif line.startswith("```") and line[3:].strip() in ("d2l", "python", "error") and name is not None:
            lang, body = line[3:].strip(), []
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                body.append(lines[i])
                i += 1
            blocks.setdefault(lang, "\n".join(body).strip("\n"))
        i += 1
    flush()
    return cases


def goldens_from_tests(path: Path, shown: str | None = None) -> list[tuple[GoldenCase, dict[str, str]]]:
    """The `validate_all(dsl, target=expected, ...)` calls of a golden test file, read without running it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef):
            continue
        for call in ast.walk(fn):
            if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "validate_all" and call.args
                    and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
                continue
            expected = {kw.arg: textwrap.dedent(kw.value.value).strip("\n") for kw in call.keywords
                        if kw.arg and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str)}
            case = GoldenCase(fn.name, textwrap.dedent(call.args[0].value).strip("\n"), origin=f"{shown or path}:{call.lineno}")
            found.append((case, expected))
    return found


def backend_dir(name: str) -> Path | None:
    """The folder of the module that registered backend `name` (where its goldens.md lives)."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name != name:
            continue
        try:
            module = importlib.import_module(ep.module)
        except Exception:
            return None
        file = getattr(module, "__file__", None)
        return Path(file).parent if file else None
    return None


def d2l_blocks(path: Path) -> list[tuple[int, str]]:
    """(line, code) of every ```d2l block (tags allowed: ```d2l parameters) of a Markdown file."""
    out, lines, i = [], path.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        if lines[i].strip().split()[:1] == ["```d2l"]:
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            out.append((start + 1, "\n".join(body)))
        i += 1
    return out


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


# ---- the report ------------------------------------------------------------------------------
@dataclass
class Step:
    name: str
    status: str = "ok"  # ok | FAIL | skip
    summary: str = ""
    details: list[str] = field(default_factory=list)

    def fail(self, detail: str) -> None:
        self.status = "FAIL"
        self.details.append(detail)


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
        step.details.append(f"  fill these in {_where(backend)}ops.py (the rule vocabulary is in d2lc/emit/rules.py)")
    for op, why in declared.items():
        step.details.append(f"declared unsupported: {op} ({why})")
    from d2lc.emit.base import Emitter
    absent = [h for h in MODEL_HOOKS if getattr(backend.emitter, h, None) is getattr(Emitter, h, None)]
    if absent:
        step.details.append(f"models: not implemented ({backend.emitter.__name__} does not override "
                            + ", ".join(absent) + "); chapters with `model` blocks need `::: only`")
    return step


def check_goldens(backend: Backend, test_file: Path | None, own: Path | None) -> Step:
    from d2lc.core.diagnostics import CompileError
    from d2lc.emit.base import EmitError
    step = Step("goldens")
    exact = matched = compiled = total = must_fail = 0
    cases: list[GoldenCase] = []
    if test_file is not None and test_file.exists():
        for case, expected in goldens_from_tests(test_file, _shown(test_file)):
            case.expected = expected.get(backend.name)
            cases.append(case)
    if own is not None and own.exists():
        cases.extend(read_goldens(own, _shown(own)))
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
                step.fail(f"{case.origin} ({case.name}): emitted code differs\n" + _diff(case.expected, got))
    sources = [_shown(p) for p in (test_file, own) if p is not None and p.exists()]
    if not total:
        step.status, step.summary = "skip", "no golden snippets found"
        return step
    step.summary = (f"{compiled} of {total - must_fail} snippets compile; {matched} of {exact} expected outputs"
                    f"{' and errors' if must_fail else ''} match ({', '.join(sources)})")
    if not exact:
        step.details.append(f"no expected outputs for `{backend.name}` yet: add sections to {_where(backend)}goldens.md")
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
            gaps.append(f"{_shown(doc)}:{line}: {error}")
        else:
            step.fail(f"{_shown(doc)}:{line}: {error}")
    step.summary = f"{ok} of {len(blocks)} examples of {_shown(doc)} compile" + (
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


def check_equivalence(backend: Backend, examples: int, sources: Path | None, reference: str = "pytorch") -> Step:
    """Run `d2lc test` for the target against the reference; only rows the reference passes count against it."""
    step = Step("equivalence")
    if importlib.util.find_spec("d2lc.cli.harness") is None:
        step.status, step.summary = "skip", "the equivalence harness (d2lc.harness) is not installed"
        return step
    from d2lc.build.envs import python_for
    if python_for(backend) is None:
        step.status = "skip"
        step.summary = (f"environment `{backend.environment.name}` is not installed "
                        f"(scripts/envs.sh {backend.environment.name})")
        return step
    import json

    from d2lc.cli.main import main
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["test", f"--target={backend.name}", f"--reference={reference}", f"--examples={examples}",
                "--no-models", "--no-goldens", "--known=none", f"--report={tmp}/equivalence"]
        if sources is not None:  # else the harness's own default: sources/ and tests/corpus/
            argv.append(str(sources))
        shown = " ".join(a for a in argv if not a.startswith("--report"))
        print(f"$ d2lc {shown}", flush=True)
        rc = main(argv)
        report = Path(tmp) / "equivalence.json"
        data = json.loads(report.read_text(encoding="utf-8")) if report.exists() else None
    if data is None:
        step.fail(f"d2lc {shown} exited {rc} without a report")
        return step
    bad = ("FAIL", "error")
    rows = [r for r in data["rows"] if backend.name in r["cells"]]
    status = [(r, r["cells"][backend.name]["status"], r["cells"].get(reference, {}).get("status")) for r in rows]
    passed = sum(1 for _, mine, _ in status if mine == "pass")
    own = [r for r, mine, ref in status if mine in bad and (ref not in bad or backend.name == reference)]
    shared = [r for r, mine, ref in status if mine in bad and ref in bad and backend.name != reference]
    skipped = sum(1 for _, mine, _ in status if mine == "skip")
    step.summary = f"{passed} of {len(rows)} rows agree with {reference}" + (f", {skipped} skipped" if skipped else "")
    for r in own:
        cell = r["cells"][backend.name]
        step.fail(f"{Path(r['chapter']).stem}:{r['label']}: {cell['status']}: {cell['message']}")
    for path, message in data.get("chapter_errors", {}).items():
        step.fail(f"{path}: does not compile: {message}")
    if shared:
        step.details.append(f"{len(shared)} rows fail on {reference} too (not counted against {backend.name}): "
                            + ", ".join(f"{Path(r['chapter']).stem}:{r['label']}" for r in shared))
    if rows and skipped == len(rows):
        step.status = "skip"
        step.summary = f"{backend.name} did not run: " + data.get("targets", {}).get(backend.name, "")
    return step


def check_models(backend: Backend, sources: Path | None, reference: str = "pytorch") -> Step:
    """The chapters' models with identical parameters in every framework: forward, gradients, SGD and Adam steps."""
    if sources is None or not sources.exists():
        return Step("models", "skip", "no chapters")
    return model_steps([backend], [sources], reference)[backend.name]


def model_steps(targets: list[Backend], paths: list[Path], reference: str = "pytorch",
                known: dict[tuple[str, str], str] | None = None) -> dict[str, Step]:
    """`check_models` for several targets in one harness session: a step per target, keyed by name.

    A FAIL or error listed in `known` ((`case check`, target) -> reason) is shown as known, not counted."""
    known = known or {}
    steps = {b.name: Step("models") for b in targets}

    def skip_all(why: str) -> dict[str, Step]:
        for step in steps.values():
            step.status, step.summary = "skip", why
        return steps

    if importlib.util.find_spec("d2lc.harness.models") is None:
        return skip_all("the model harness (d2lc.harness.models) is not installed")
    from d2lc.harness.models import model_cases, run_model_cases
    from d2lc.harness.session import Session
    cases, notes = model_cases(paths)
    if not cases:
        return skip_all("no models in " + ", ".join(_shown(p) for p in paths))
    backends = {b.name: b for b in (get_backend(reference), *targets)}
    with Session(list(backends.values()), call_timeout=300) as session:
        session.start()
        if reference not in session.available():
            return skip_all(f"the reference {reference} is not available to the harness")
        try:
            results = run_model_cases(session, cases, backends, reference=reference)
        except Exception as exc:  # noqa: BLE001 - report it; the harness may have tripped over a target's output
            for step in steps.values():
                step.fail(f"the model harness raised {type(exc).__name__}: {exc}")
            return steps
        available = set(session.available())
    ref = {(r.case, r.check): r.status for r in results if r.target == reference}
    for name, step in steps.items():
        if name not in available:
            step.status, step.summary = "skip", f"{name} is not available to the harness"
            continue
        mine = [r for r in results if r.target == name]
        passed = sum(1 for r in mine if r.status == "pass")
        skipped = [r for r in mine if r.status == "skip"]
        step.summary = (f"{passed} of {len(mine)} checks of {len(cases)} models agree with {reference}"
                        + (f", {len(skipped)} skipped" if skipped else ""))
        for r in mine:
            if r.status in ("FAIL", "error") and (f"{r.case} {r.check}", name) in known:
                step.details.append(f"known: {r.case} {r.check}: {r.status}: {known[(f'{r.case} {r.check}', name)]}")
            elif r.status in ("FAIL", "error") and ref.get((r.case, r.check)) == "pass":
                step.fail(f"{r.case} {r.check}: {r.status} (max abs error {r.max_abs:.2e}) {r.detail}".rstrip())
        shared = [r for r in mine if r.status in ("FAIL", "error") and ref.get((r.case, r.check)) != "pass"]
        if shared:
            step.details.append(f"{len(shared)} checks fail on {reference} too (not counted against {name})")
        step.details.extend(sorted({f"skipped: {r.case} {r.check}: {r.detail}" for r in skipped if r.detail}))
        if not passed and step.status == "ok":
            step.status = "skip"
        step.details.extend(f"note: {n}" for n in notes)
    return steps


def _shown(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


def _where(backend: Backend) -> str:
    d = backend_dir(backend.name)
    return _shown(d) + "/" if d is not None else ""


def _diff(want: str, got: str) -> str:
    import difflib
    return "\n".join("    " + line for line in difflib.unified_diff(want.splitlines(), got.splitlines(), "expected", "emitted",
                                                                   lineterm=""))


def _find(rel: str) -> Path | None:
    """`rel` under the current folder, else under the repository d2lc was installed from."""
    if Path(rel).exists():
        return Path(rel)
    return REPO_ROOT / rel if (REPO_ROOT / rel).exists() else None


def run(name: str, *, sources: Path | None = None, equivalence: bool = True, examples: int = 10,
        out=print) -> int:
    """Run every check for one target and print the report; returns the exit status."""
    backend = get_backend(name)
    chapters = sources if sources is not None else _find("sources")
    own = backend_dir(backend.name)
    out(f"d2lc conformance {backend.name} ({backend.display_name}; backend folder {_shown(own) if own else '?'})")
    steps = [check_coverage(backend),
             check_goldens(backend, _find("tests/test_golden.py"), own / "goldens.md" if own else None),
             check_reference(backend, _find("docs/dsl.md")),
             check_chapters(backend, chapters)]
    for step in steps:
        print_step(step, out)
    if equivalence:
        step = check_equivalence(backend, examples, sources)
        print_step(step, out)
        steps.append(step)
        step = check_models(backend, chapters)
        print_step(step, out)
        steps.append(step)
    failed = [s.name for s in steps if s.status == "FAIL"]
    out("")
    out(f"d2lc conformance {backend.name}: " + (f"FAILED ({', '.join(failed)})" if failed else "ok"))
    return 1 if failed else 0


def print_step(step: Step, out=print) -> None:
    out(f"{step.name:12} {step.status:5} {step.summary}")
    for d in step.details[:40]:
        out("    " + d.replace("\n", "\n    "))
    if len(step.details) > 40:
        out(f"    ... and {len(step.details) - 40} more")


# ---- command line ----------------------------------------------------------------------------
def add_conformance_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "conformance", help="check one backend: op coverage, goldens, reference examples, chapters, equivalence",
        description="Check one backend: op coverage, golden outputs, the examples of docs/dsl.md, every chapter, "
                    "and (when the harness is installed) numerical equivalence with PyTorch. Exits 1 if any check fails.")
    p.add_argument("target", metavar="TARGET", help="a target name (see `d2lc targets`)")
    p.add_argument("--sources", metavar="PATH", help="the chapters to compile (default: sources/)")
    p.add_argument("--examples", type=int, default=10, metavar="N", help="inputs per function for the equivalence check (default: 10)")
    p.add_argument("--no-equivalence", action="store_true", help="skip the numerical checks (equivalence and models)")
    p.set_defaults(func=cmd_conformance)
    return p


def cmd_conformance(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        get_backend(args.target)
    except KeyError:
        from d2lc.core.diagnostics import did_you_mean
        hint = did_you_mean(args.target, target_names())
        parser.error(f"unknown target '{args.target}' (known: {', '.join(target_names())})" + (f"; {hint}" if hint else ""))
    sources = Path(args.sources) if args.sources else None
    if sources is not None and not sources.exists():
        parser.error(f"no such file or folder: {sources}")
    return run(args.target, sources=sources, equivalence=not args.no_equivalence, examples=args.examples)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1]))
