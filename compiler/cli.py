"""The `d2lc` command line: compile, check, targets, test, new-target."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .backend import get_backend, registry, target_names

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def _print_diagnostics(errors: dict[str, list]) -> int:
    count = 0
    for file, diags in errors.items():
        try:
            lines = Path(file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            lines = None
        for d in diags:
            print(d.render(lines), file=sys.stderr)
            print(file=sys.stderr)
            count += 1
    return count


def _targets(spec: str, parser: argparse.ArgumentParser) -> list:
    names = target_names() if spec == "all" else [s.strip() for s in spec.split(",") if s.strip()]
    out = []
    for n in names:
        try:
            out.append(get_backend(n))
        except KeyError:
            from .diagnostics import did_you_mean
            hint = did_you_mean(n, target_names())
            parser.error(f"unknown target '{n}' (known: {', '.join(target_names())}, all)" + (f"; {hint}" if hint else ""))
    return out


def cmd_compile(args, parser) -> int:
    from .build import build, write_outputs
    backends = _targets(args.target, parser)
    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists():
            parser.error(f"no such file or folder: {p}")
    out = Path(args.output)
    result = build(paths, backends, out)
    if result.errors:
        n = _print_diagnostics(result.errors)
        print(f"d2lc: {n} error{'s' * (n != 1)} in {len(result.errors)} file{'s' * (len(result.errors) != 1)}; nothing was written",
              file=sys.stderr)
        return EXIT_ERRORS
    written = write_outputs(result.outputs, out)
    if not args.quiet:
        print(f"d2lc: {len(result.outputs)} notebook{'s' * (len(result.outputs) != 1)} up to date in {out} ({len(written)} rewritten)")
    return EXIT_OK


def cmd_check(args, parser) -> int:
    """`compile` minus writing: the same build for the same targets, so it reports exactly compile's errors."""
    from .build import build
    backends = _targets(args.target, parser)
    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists():
            parser.error(f"no such file or folder: {p}")
    result = build(paths, backends, Path("."))
    if result.errors:
        n = _print_diagnostics(result.errors)
        print(f"d2lc: {n} error{'s' * (n != 1)}", file=sys.stderr)
        return EXIT_ERRORS
    print("d2lc: ok")
    return EXIT_OK


def cmd_targets(args, parser) -> int:
    from .ops import SPECS
    total = len(SPECS)
    for name in target_names():
        b = registry()[name]
        covered = sum(1 for op in SPECS if b.supports(op))
        print(f"{name:12} {b.display_name:12} env={b.environment.name:8} ops {covered}/{total}  "
              f"layout {b.layouts.activations}, dense {b.layouts.dense_weight}, conv {b.layouts.conv_kernel}")
    return EXIT_OK


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="d2lc", description="Compile framework-neutral deep-learning chapters "
                                     "into PyTorch, TensorFlow, JAX and MXNet notebooks.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("compile", help="compile chapters to notebooks", description="Compile chapters (Markdown with ```d2l cells) "
                       "into one notebook per target. Writes nothing if any chapter has errors.")
    p.add_argument("--target", default="all", help="a target name, a comma-separated list, or 'all' (default)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="chapter files or folders")
    p.add_argument("-o", "--output", default="generated", help="output folder (default: generated)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("check", help="report every error compile would, writing nothing",
                       description="Parse, type-check and emit for the targets in memory; report exactly the errors "
                       "`compile` would, and write nothing.")
    p.add_argument("--target", default="all", help="a target name, a comma-separated list, or 'all' (default: every installed target)")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("targets", help="list installed backends", description="List the installed backends and their op coverage.")
    p.set_defaults(func=cmd_targets)

    try:
        from .harness.cli import add_test_parser
        add_test_parser(sub)
    except ImportError:
        pass
    try:
        from .scaffold import add_new_target_parser
        add_new_target_parser(sub)
    except ImportError:
        pass
    try:
        from .conformance import add_conformance_parser
        add_conformance_parser(sub)
    except ImportError:
        pass
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args, parser)
    except KeyboardInterrupt:
        print("d2lc: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug in d2lc, not in the input: say so plainly
        print(f"d2lc: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in d2lc, not in your chapter; please report it with the input that caused it.", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
