"""`d2lc test`: the numerical equivalence matrix of compiled functions across targets."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from d2lc.cli.options import add_target_option, chapter_paths, parse_targets

DEFAULT_PATHS = ("sources", "tests/corpus")
TEST_EXTRA = ("hypothesis",)  # what `pip install 'd2lc[test]'` adds that d2lc test imports


def positive_seconds(text: str) -> float:
    """An argparse type: a number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, not {text}")
    return value


def add_test_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "test", help="check that the compiled functions agree across targets",
        description="Draw inputs for every typed function (hypothesis), run it in every target's framework, and "
                    "compare outputs and gradients with the reference target. Exits 1 on any mismatch or error.")
    p.add_argument("paths", nargs="*", metavar="PATH", help=f"chapter files or folders (default: {' '.join(DEFAULT_PATHS)})")
    add_target_option(p, "comma-separated target names, or 'all' (default); the reference is always added")
    p.add_argument("--reference", default="pytorch", help="the target whose outputs count as right (default: pytorch)")
    p.add_argument("--examples", type=int, default=25, metavar="N", help="inputs drawn per function (default: 25)")
    p.add_argument("--device", choices=("cpu", "gpu", "auto"), default="cpu",
                   help="where the frameworks compute; auto = a GPU where the framework sees one (default: cpu)")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="seed for the drawn inputs (default: random, printed)")
    p.add_argument("--report", metavar="FILE", help="also write the matrix to FILE.json and FILE.md")
    p.add_argument("--timeout", type=positive_seconds, default=60.0, metavar="SECONDS",
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
                   help="skip each target's golden snippets (tests/goldens.md and the backend's goldens.md)")
    p.add_argument("--known", metavar="FILE", default=None,
                   help="known divergences, `row | target | reason` per line, reported as `known` (default: "
                        "tests/known_mismatches.txt, and tests/known_model_divergences.txt for models, in the nearest "
                        "folder above the chapters or the working folder); 'none' to report them as failures")
    p.add_argument("--replay", metavar="FILE.npz", help="rerun one saved failing input (needs --function)")
    p.add_argument("--function", metavar="NAME", help="the function to replay")
    from d2lc.cli.notebooks import add_notebook_options
    from d2lc.cli.sametrain import add_same_training_options
    add_notebook_options(p)
    add_same_training_options(p)
    p.set_defaults(func=cmd_test)
    return p


def _backends(spec: str, reference: str, parser: argparse.ArgumentParser) -> list:
    from d2lc.emit.backend import get_backend, target_names
    out = parse_targets(spec, parser)
    ref = get_backend(reference)
    if ref not in out:
        out.append(ref)
    order = target_names()
    return sorted(out, key=lambda b: order.index(b.name) if b.name in order else len(order))


def _writable_folder(option: str, folder: Path, parser: argparse.ArgumentParser) -> None:
    """A folder d2lc test writes to must exist, have an existing parent (then it is created, one level, like
    mkdir), or lie under the working folder; never a chain of new folders elsewhere (say from the root)."""
    if folder.exists():
        if not folder.is_dir():
            parser.error(f"{option}: {folder} is not a folder")
        return
    if folder.resolve().parent.is_dir():
        return
    if not folder.resolve().is_relative_to(Path.cwd().resolve()):
        parser.error(f"{option}: neither the folder {folder} nor its parent exists (d2lc test creates a chain of "
                     "folders only under the working folder; create it first)")


def cmd_test(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    try:
        from d2lc.harness.runner import ERROR, FAIL, KNOWN, NoSuchFunction, Runner
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] not in TEST_EXTRA:
            raise
        print(f"d2lc test: needs the test extra ({exc.name} is not installed): pip install 'd2lc[test]' "
              "(in a checkout: pip install -e '.[test]')", file=sys.stderr)
        return 2
    from d2lc.emit.backend import get_backend
    from d2lc.harness.replay import format_example, load_example
    from d2lc.harness.report import Progress, summary_line, text_matrix, write_report

    try:
        reference = get_backend(args.reference).name
    except KeyError:
        parser.error(f"unknown reference target '{args.reference}'")
    backends = _backends(args.target, reference, parser)
    if args.examples < 1:
        parser.error("--examples must be at least 1")
    if bool(args.replay) != bool(args.function):
        parser.error("--replay FILE.npz and --function NAME go together")
    if args.report:
        _writable_folder("--report", Path(args.report).parent, parser)
    _writable_folder("--reports-dir", Path(args.reports_dir), parser)
    replay = None
    paths = chapter_paths(args.paths, parser)
    if args.replay:
        if not Path(args.replay).is_file():
            parser.error(f"--replay: no such file: {args.replay}")
        try:
            example, meta = load_example(Path(args.replay))
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's input, not a bug
            parser.error(f"--replay: {args.replay} is not an input saved by d2lc test ({type(exc).__name__}: {exc})")
        replay = (args.function, example)
        if not paths:
            paths = chapter_paths([meta["chapter"]], parser)
        seed = int(meta.get("seed", 0))
    else:
        seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(4), "big") >> 1
    if args.own_init:
        if replay or args.same_training:
            parser.error("--own-init goes with neither --same-training nor --replay")
        from d2lc.cli.sametrain import run_own_init_step
        print(f"d2lc test: seed {seed} (own initialisation: the data's seed)", file=sys.stderr)
        return run_own_init_step(args, backends, reference, paths or [Path("sources")], seed)
    if args.seeds is not None:
        parser.error("--seeds goes with --own-init")
    if args.same_training:
        if replay:
            parser.error("--same-training and --replay do not go together")
        from d2lc.cli.sametrain import run_same_training_step
        print(f"d2lc test: seed {seed} (same training)", file=sys.stderr)
        paths = paths or [Path("sources")]
        return run_same_training_step(args, backends, reference, paths, seed, _known_training(args.known, paths, parser))
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

    known_rows, known_models = _known_lists(args.known, paths, parser)
    now_passing = result.mark_known(known_rows)

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
    for r in result.rows:
        for target, cell in r.cells.items():
            if cell.status == KNOWN:
                print(f"known: {Path(r.chapter).stem}:{r.label} on {target}: {cell.known}")
    for row, target in now_passing:
        print(f"listed as known but passes now (remove its line): {row} | {target}")
    if replay:
        _print_outputs(runner, result)
    print()
    print(text_matrix(result))
    print()
    print(summary_line(result))
    if args.report:
        js, md = write_report(result, Path(args.report))
        print(f"d2lc test: report written to {js} and {md}")
    checks_ok, models_compared = (True, False) if replay is not None else \
        _target_checks(args, backends, reference, paths, known_models)
    notebooks_ok, notebooks_compared = True, False
    if replay is None and args.notebooks:
        from d2lc.cli.notebooks import run_notebook_step
        notebooks_ok, notebooks_compared = run_notebook_step(args, backends, reference, paths)
    compared = models_compared or notebooks_compared
    if not result.rows and not compared:
        print("d2lc test: nothing was compared (no typed function, model or notebook value in " + ", ".join(map(str, paths)) + ")")
        return 1
    matrix_ok = result.ok or (not result.rows and compared)
    return 0 if matrix_ok and checks_ok and notebooks_ok else 1


def _known_training(option: str | None, paths: list[Path], parser: argparse.ArgumentParser) -> dict[tuple[str, str], str]:
    """The known divergences of `--same-training` (see `known.py`): next to `--known FILE`, or found as the others."""
    from d2lc.harness.known import TRAINING_DIVERGENCES, KnownFileError, find_known_file, read_known
    if option == "none":
        return {}
    found = find_known_file(TRAINING_DIVERGENCES, [Path(option).resolve().parent.parent] if option else paths)
    try:
        return read_known(found) if found else {}
    except (OSError, KnownFileError) as exc:
        parser.error(f"--known: {exc}")


def _known_lists(option: str | None, paths: list[Path],
                 parser: argparse.ArgumentParser) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    """The known divergences of the function matrix and of the models (see `known.py`)."""
    from d2lc.harness.known import MISMATCHES, MODEL_DIVERGENCES, KnownFileError, find_known_file, read_known
    if option == "none":
        return {}, {}
    rows_file = Path(option) if option else find_known_file(MISMATCHES, paths)
    models_file = find_known_file(MODEL_DIVERGENCES, [rows_file.parent.parent] if option else paths) if rows_file else None
    try:
        return (read_known(rows_file) if rows_file else {}), (read_known(models_file) if models_file else {})
    except (OSError, KnownFileError) as exc:
        parser.error(f"--known: {exc}")


def _target_checks(args: argparse.Namespace, backends: list, reference: str, paths: list[Path],
                   known_models: dict[tuple[str, str], str]) -> tuple[bool, bool]:
    """Per target: IR-op coverage (missing ops listed), golden snippets, and the chapters' models.

    Returns (no check failed, some model was compared)."""
    from d2lc.tools.conformance import check_coverage, check_goldens
    from d2lc.tools.goldens import SHARED_GOLDENS, backend_dir
    from d2lc.tools.numeric import model_steps
    from d2lc.tools.report import find_in_repo, print_step
    targets = [b for b in backends if b.name != reference] or backends
    models = model_steps(targets, paths, reference, known=known_models) if args.models else {}
    ok = True
    for b in targets:
        own = backend_dir(b.name)
        steps = [check_coverage(b)]
        if args.goldens:
            steps.append(check_goldens(b, find_in_repo(SHARED_GOLDENS), own / "goldens.md" if own else None))
        if b.name in models:
            steps.append(models[b.name])
        print(f"\n{b.name}:")
        for step in steps:
            print_step(step, lambda line: print("  " + line))
        ok = ok and all(step.status != "FAIL" for step in steps)
    return ok, any(step.status == "ok" for step in models.values())


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
