"""`d2lc test`: the numerical equivalence matrix of compiled functions across targets."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_PATHS = ("sources", "tests/corpus")


def add_test_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "test", help="check that the compiled functions agree across targets",
        description="Draw inputs for every typed function (hypothesis), run it in every target's framework, and "
                    "compare outputs and gradients with the reference target. Exits 1 on any mismatch or error.")
    p.add_argument("paths", nargs="*", metavar="PATH", help=f"chapter files or folders (default: {' '.join(DEFAULT_PATHS)})")
    p.add_argument("--targets", default="all", help="comma-separated target names, or 'all' (default)")
    p.add_argument("--reference", default="pytorch", help="the target whose outputs count as right (default: pytorch)")
    p.add_argument("--examples", type=int, default=25, metavar="N", help="inputs drawn per function (default: 25)")
    p.add_argument("--device", choices=("cpu", "gpu", "auto"), default="cpu",
                   help="where the frameworks compute; auto = a GPU where the framework sees one (default: cpu)")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="seed for the drawn inputs (default: random, printed)")
    p.add_argument("--report", metavar="FILE", help="also write the matrix to FILE.json and FILE.md")
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="limit for one call; a worker past it is killed and restarted (default: 60)")
    p.add_argument("--reports-dir", default="reports", metavar="DIR", help="where failing inputs are saved (default: reports)")
    p.add_argument("--shapes", choices=("pool", "free"), default="pool",
                   help="symbol sizes: 'pool' = a few seeded size vectors shared by all functions (fast: JAX compiles "
                        "each eager op once per shape); 'free' = every symbol drawn from 1..5 per example (default: pool)")
    p.add_argument("--cache-dir", default=".d2lc-cache", metavar="DIR",
                   help="on-disk compile caches of the frameworks (default: .d2lc-cache); 'none' to disable")
    p.add_argument("--no-models", dest="models", action="store_false",
                   help="skip the models of the chapters (by default each is compared: forward, gradients, SGD, Adam)")
    p.add_argument("--no-goldens", dest="goldens", action="store_false",
                   help="skip each target's golden snippets (tests/test_golden.py and the backend's goldens.md)")
    p.add_argument("--replay", metavar="FILE.npz", help="rerun one saved failing input (needs --function)")
    p.add_argument("--function", metavar="NAME", help="the function to replay")
    p.set_defaults(func=cmd_test)
    return p


def _backends(spec: str, reference: str, parser: argparse.ArgumentParser) -> list:
    from ..backend import get_backend, target_names
    names = target_names() if spec == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    out = []
    for n in names + [reference]:
        try:
            b = get_backend(n)
        except KeyError:
            parser.error(f"unknown target '{n}' (known: {', '.join(target_names())}, all)")
        if b not in out:
            out.append(b)
    order = target_names()
    return sorted(out, key=lambda b: order.index(b.name) if b.name in order else len(order))


def cmd_test(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..backend import get_backend
    from .replay import format_example, load_example
    from .report import Progress, summary_line, text_matrix, write_report
    from .runner import ERROR, FAIL, NoSuchFunction, Runner

    try:
        reference = get_backend(args.reference).name
    except KeyError:
        parser.error(f"unknown reference target '{args.reference}'")
    backends = _backends(args.targets, reference, parser)
    if args.examples < 1:
        parser.error("--examples must be at least 1")
    if bool(args.replay) != bool(args.function):
        parser.error("--replay FILE.npz and --function NAME go together")
    replay = None
    paths = [Path(p) for p in args.paths]
    if args.replay:
        example, meta = load_example(Path(args.replay))
        replay = (args.function, example)
        if not paths:
            paths = [Path(meta["chapter"])]
        seed = int(meta.get("seed", 0))
    else:
        seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big") >> 1
    for p in paths:
        if not p.exists():
            parser.error(f"no such file or folder: {p}")
    if not paths:
        paths = [Path(p) for p in DEFAULT_PATHS if Path(p).exists()]
    print(f"d2lc test: seed {seed}" + (f" (replaying {args.replay})" if replay else ""), file=sys.stderr)
    runner = Runner(backends, reference=reference, examples=1 if replay else args.examples, seed=seed, device=args.device,
                    call_timeout=args.timeout, reports_dir=Path(args.reports_dir), progress=Progress(),
                    cache_dir=None if args.cache_dir == "none" else Path(args.cache_dir), shapes=args.shapes)
    try:
        result = runner.run(paths, replay=replay)
    except NoSuchFunction as exc:
        print(f"d2lc test: {exc}", file=sys.stderr)
        return 2

    for t in result.targets:
        print(f"  {t:11} {result.target_notes.get(t, '')}")
    for path, message in result.chapter_errors.items():
        print(f"\nchapter does not compile: {message}")
    for r in result.rows:
        for target, cell in r.cells.items():
            if cell.status not in (FAIL, ERROR):
                continue
            print(f"\n{cell.status}: {Path(r.chapter).stem}:{r.label} on {target}: {cell.message}")
            if cell.example is not None:
                case = _case_for(runner, r)
                if case is not None:
                    print("  input" + (" (shrunk)" if not replay else "") + ":")
                    print(format_example(case, cell.example))
            if cell.detail and os.environ.get("D2LC_TEST_TRACEBACKS"):
                print("  " + cell.detail.rstrip().replace("\n", "\n  "))
            if cell.npz:
                print(f"  saved: {cell.npz}")
            if cell.replay:
                print(f"  replay: {cell.replay}")
    if replay:
        _print_outputs(runner, result)
    print()
    print(text_matrix(result))
    print()
    print(summary_line(result))
    if args.report:
        js, md = write_report(result, Path(args.report))
        print(f"d2lc test: report written to {js} and {md}")
    checks_ok = replay is not None or _target_checks(args, backends, reference, paths)
    return 0 if result.ok and checks_ok else 1


def _target_checks(args: argparse.Namespace, backends: list, reference: str, paths: list[Path]) -> bool:
    """Per target: IR-op coverage (missing ops listed), golden snippets, and the chapters' models. True if none fails."""
    from ..conformance import _find, backend_dir, check_coverage, check_goldens, model_steps, print_step
    targets = [b for b in backends if b.name != reference] or backends
    models = model_steps(targets, paths, reference) if args.models else {}
    ok = True
    for b in targets:
        own = backend_dir(b.name)
        steps = [check_coverage(b)]
        if args.goldens:
            steps.append(check_goldens(b, _find("tests/test_golden.py"), own / "goldens.md" if own else None))
        if b.name in models:
            steps.append(models[b.name])
        print(f"\n{b.name}:")
        for step in steps:
            print_step(step, lambda line: print("  " + line))
        ok = ok and all(step.status != "FAIL" for step in steps)
    return ok


def _case_for(runner, row_result):
    return runner.cases_by_row.get(id(row_result.row))


def _print_outputs(runner, result) -> None:
    """In replay mode: every target's output for every row, next to each other."""
    import numpy as np
    print("\noutputs:")
    for r in result.rows:
        for t in result.targets:
            out = runner.last_outputs.get((t, r.row.callee))
            if out is None and (t, r.row.callee) not in runner.last_outputs:
                continue
            text = np.array2string(out, precision=8, separator=", ") if isinstance(out, np.ndarray) else repr(out)
            if hasattr(out, "message"):
                text = f"raised {out.message}"
            print(f"  {r.label} [{t}]: " + text.replace("\n", "\n    "))
