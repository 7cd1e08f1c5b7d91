"""The subcommands of the tools: `d2lc conformance TARGET` and `d2lc new-target NAME` (d2lc/tools/)."""
from __future__ import annotations

import argparse
from pathlib import Path

from d2lc.emit.backend import get_backend, target_names


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
    from d2lc.tools.conformance import run
    return run(args.target, sources=sources, equivalence=not args.no_equivalence, examples=args.examples)


def add_new_target_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "new-target", help="write the skeleton of a new backend",
        description="Write a backend folder (Backend declaration, an op table listing every IR op as a TODO or "
                    "inherited, an Emitter subclass, the models' harness glue, goldens) and envs/NAME.txt, and "
                    "register its entry point. With --inherit it passes `d2lc conformance NAME` as written.")
    p.add_argument("name", metavar="NAME", help="the target name (lowercase), e.g. paddle")
    p.add_argument("--dir", default="targets", help="the folder to create NAME/ in (default: targets)")
    p.add_argument("--inherit", metavar="TARGET", help="start from this backend's rules (e.g. pytorch) instead of TODOs")
    p.add_argument("--display-name", metavar="TEXT", help="the framework's name for people (default: from NAME)")
    p.add_argument("--module", metavar="ROOT", help="the root name emitted code imports (default: NAME)")
    p.add_argument("--envs-dir", metavar="DIR", help="where NAME.txt goes (default: envs/ next to --dir)")
    p.add_argument("--force", action="store_true", help="overwrite an existing folder")
    p.add_argument("--no-register", action="store_true", help="don't add the entry point to pyproject.toml")
    p.set_defaults(func=cmd_new_target)
    return p


def cmd_new_target(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.inherit:
        try:
            get_backend(args.inherit)
        except KeyError:
            parser.error(f"unknown target to inherit from: '{args.inherit}'")
    from d2lc.tools.scaffold import SECTION, ScaffoldError, scaffold
    try:
        result = scaffold(args.name, Path(args.dir), inherit=args.inherit, display_name=args.display_name,
                          module=args.module, envs_dir=Path(args.envs_dir) if args.envs_dir else None,
                          force=args.force, register=not args.no_register)
    except ScaffoldError as exc:
        parser.error(str(exc))
    for path in result.files:
        print(f"wrote {path}")
    if result.registered:
        print(f"added to pyproject.toml [{SECTION[1:-1]}]:\n    {result.entry_point}")
        print("next: .venv/bin/pip install -q --no-deps -e .   (then it shows in `d2lc targets`)")
    else:
        print(f"add this line under {SECTION} in the pyproject.toml of the package holding {result.package}:")
        print(f"    {result.entry_point}")
        print("then reinstall that package (pip install -e .) so that `d2lc targets` lists it")
    if args.inherit:
        print(f"then: `d2lc conformance {args.name}` passes as written (everything is {args.inherit}'s); add each "
              f"difference to {result.package}/ops.py, __init__.py or emitter.py and run it again")
    else:
        print(f"then: fill in the TODOs of {result.package}/ops.py and __init__.py, "
              f"make its environment (scripts/envs.sh {args.name}), and run `d2lc conformance {args.name}`")
    return 0
