"""The `d2lc` command line: compile, check, targets, build, serve, test, new-target."""
from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from d2lc.build.outputs import write_or_report
from d2lc.core.diagnostics import print_diagnostics
from d2lc.cli.options import add_target_option, chapter_paths, parse_targets
from d2lc.emit.backend import registry, target_names

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def _target_names(spec: str, parser: argparse.ArgumentParser) -> list:
    """The targets named by `spec`, without loading any backend when every name is an installed entry
    point (so a rebuild served from the compile cache never imports the compiler); else parse_targets."""
    from d2lc.emit.backend import entry_point_names
    installed = entry_point_names()
    names = installed if spec.strip() == "all" else [s.strip() for s in spec.split(",")]
    if names and all(n in installed for n in names):
        return list(dict.fromkeys(names))
    return [b.name for b in parse_targets(spec, parser)]


def cmd_compile(args, parser) -> int:
    from d2lc.build.compile import build
    from d2lc.core.cache import NotebookCache, default_folder
    from d2lc.build.incremental import UnknownTargets
    from d2lc.build.outputs import OutputError, check_output_root
    targets = _target_names(args.target, parser)
    paths = chapter_paths(args.paths, parser)
    if args.jobs is not None and args.jobs < 1:
        parser.error("--jobs must be at least 1")
    out = Path(args.output)
    try:
        check_output_root(out)
    except OutputError as exc:
        parser.error(f"cannot write to {exc.path}: {exc.reason}")
    cache = None if args.no_cache else NotebookCache(default_folder(out))
    try:
        result = build(paths, targets, out, jobs=args.jobs, cache=cache)
    except UnknownTargets:  # names taken from entry points that are not the backends' own
        result = build(paths, [b.name for b in parse_targets(args.target, parser)], out, jobs=args.jobs, cache=cache)
    if result.errors:
        n = print_diagnostics(result.errors)
        print(f"d2lc: {n} error{'s' * (n != 1)} in {len(result.errors)} file{'s' * (len(result.errors) != 1)}; nothing was written",
              file=sys.stderr)
        return EXIT_ERRORS
    written = write_or_report(result.outputs, out)
    if written is None:
        return EXIT_USAGE
    if not args.quiet:
        n = len(result.outputs)
        skipped = f"; {result.from_cache} unchanged, not compiled again (compile cache)" if result.from_cache else ""
        print(f"d2lc: {n} notebook{'s' * (n != 1)} up to date in {out} ({len(written)} rewritten{skipped})")
    return EXIT_OK


def cmd_check(args, parser) -> int:
    """`compile` minus writing: the same build for the same targets, so it reports exactly compile's errors."""
    from d2lc.build.compile import build
    backends = parse_targets(args.target, parser)
    paths = chapter_paths(args.paths, parser)
    result = build(paths, backends, Path("."))
    if result.errors:
        n = print_diagnostics(result.errors)
        print(f"d2lc: {n} error{'s' * (n != 1)}", file=sys.stderr)
        return EXIT_ERRORS
    print("d2lc: ok")
    return EXIT_OK


def cmd_targets(args, parser) -> int:
    from d2lc.core.ops import SPECS
    total = len(SPECS)
    for name in target_names():
        b = registry()[name]
        covered = sum(1 for op in SPECS if b.supports(op))
        print(f"{name:12} {b.display_name:12} env={b.environment.name:8} ops {covered}/{total}  "
              f"layout {b.layouts.activations}, dense {b.layouts.dense_weight}, conv {b.layouts.conv_kernel}")
    return EXIT_OK


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("d2lc")
    except PackageNotFoundError:
        return "unknown (not installed)"


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="d2lc", description="Compile framework-neutral deep-learning chapters "
                                     "into PyTorch, TensorFlow, JAX and MXNet notebooks.")
    parser.add_argument("--version", action="version", version=f"d2lc {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("compile", help="compile chapters to notebooks", description="Compile chapters (Markdown with ```d2l cells) "
                       "into one notebook per target. Writes nothing if any chapter has errors.")
    add_target_option(p, "a target name, a comma-separated list, or 'all' (default)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="chapter files or folders")
    p.add_argument("-o", "--output", default="generated", help="output folder (default: generated)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help="compile in N processes (default: one per CPU core)")
    p.add_argument("--no-cache", action="store_true",
                   help="compile everything again, neither reading nor writing the compile cache (.d2lc-cache/ "
                        "beside the output folder, or $D2LC_CACHE_DIR)")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("check", help="report every error compile would, writing nothing",
                       description="Parse, type-check and emit for the targets in memory; report exactly the errors "
                       "`compile` would, and write nothing.")
    add_target_option(p, "a target name, a comma-separated list, or 'all' (default: every installed target)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("targets", help="list installed backends", description="List the installed backends and their op coverage.")
    p.set_defaults(func=cmd_targets)

    from d2lc.cli.book import add_book_parsers
    add_book_parsers(sub)
    try:
        from d2lc.cli.harness import add_test_parser
        add_test_parser(sub)
    except ImportError:
        pass
    try:
        from d2lc.cli.fuzz import add_fuzz_parser
        add_fuzz_parser(sub)
    except ImportError:
        pass
    from d2lc.cli.tools import add_conformance_parser, add_new_target_parser
    add_new_target_parser(sub)
    add_conformance_parser(sub)
    return parser


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised like Ctrl-C so that every run cleans up (workers killed) the same way."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupted(signum: int, frame) -> None:
    raise Interrupted(signum)


def _catch_termination() -> dict[int, object]:
    """Turn SIGTERM and SIGHUP into `Interrupted` (main thread only); returns the handlers to put back."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {s: signal.signal(s, _interrupted) for s in (signal.SIGTERM, signal.SIGHUP)}


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    previous = _catch_termination()
    try:
        return args.func(args, parser)
    except KeyboardInterrupt as exc:
        print("d2lc: interrupted", file=sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    except Exception as exc:  # a bug in d2lc, not in the input: say so plainly
        print(f"d2lc: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in d2lc, not in your chapter; please report it with the input that caused it.", file=sys.stderr)
        return 3
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    sys.exit(main())
