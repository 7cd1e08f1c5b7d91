"""`d2lc fuzz`: random well-typed programs, compiled for every target, run and compared value by value."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from d2lc.cli.options import add_target_option


def add_fuzz_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "fuzz", help="differential fuzzing: random programs must agree on every target",
        description="Generate well-typed random programs (hypothesis), compile each for every target, run them in "
                    "the targets' workers and compare every value bound and printed. A program the compiler rejects "
                    "or on which a target disagrees is shrunk and saved. Exits 1 if a new failure was found.")
    p.add_argument("--programs", type=int, default=200, metavar="N", help="programs to try (default: 200)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the generator (default: 0)")
    p.add_argument("--batch", type=int, default=25, metavar="B", help="programs per notebook run (default: 25)")
    add_target_option(p, "comma-separated target names, or 'all' (default)")
    p.add_argument("--reference", default="pytorch", help="the target whose values count as right (default: pytorch)")
    p.add_argument("--shrink-budget", type=int, default=40, metavar="RUNS",
                   help="notebook runs spent shrinking each failure (default: 40)")
    p.add_argument("--save", default="tests/corpus/fuzz", metavar="DIR",
                   help="where shrunk failing programs are written (default: tests/corpus/fuzz); 'none' to not save")
    p.add_argument("--known", metavar="FILE", default=None,
                   help="failure signatures already known (one a line, `kind | target | message | ops | reason`; # comments)")
    p.add_argument("--log", action="store_true", help="progress as one line per batch (for a log file)")
    p.add_argument("--cache-dir", default=".d2lc-cache", metavar="DIR", help="frameworks' compile caches; 'none' to disable")
    p.set_defaults(func=cmd_fuzz)
    return p


def load_signatures(path: Path | None) -> set[str]:
    if path is None or not path.exists():
        return set()
    out = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            out.add(" | ".join(part.strip() for part in line.split("|")[:4]))
    return out


def cmd_fuzz(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from d2lc.emit.backend import get_backend
    from d2lc.cli.harness import _backends
    from d2lc.tools.fuzz.run import Fuzzer, save_case
    if args.programs < 1 or args.batch < 1:
        parser.error("--programs and --batch must be at least 1")
    reference = get_backend(args.reference).name
    backends = _backends(args.target, reference, parser)
    known = load_signatures(Path(args.known) if args.known else None)
    fuzzer = Fuzzer(backends, reference, cache_dir=None if args.cache_dir == "none" else Path(args.cache_dir), known=known)
    skipped = {n: i.why for n, i in fuzzer.session.targets.items() if not i.available}
    for n, why in skipped.items():
        print(f"d2lc fuzz: {n} skipped ({why})", file=sys.stderr)

    def progress(stats) -> None:
        end = "\n" if args.log else ""
        print(f"\r  {stats.programs} programs, {stats.rejected} rejected, {stats.diverged} diverged, "
              f"{len(stats.seen)} signatures", end=end, file=sys.stderr, flush=True)

    def found(f) -> None:
        print(f"\nNEW: {f.signature}\n{f.chapter}", flush=True)
        if args.save != "none":
            print(f"  saved: {save_case(f, Path(args.save))}", flush=True)

    try:
        stats = fuzzer.run(args.programs, args.seed, args.batch, args.shrink_budget, progress, found=found)
    finally:
        fuzzer.close()
    print(file=sys.stderr)
    per = stats.seconds / max(1, stats.programs)
    print(f"d2lc fuzz: seed {args.seed}: {stats.programs} programs on {len(backends) - len(skipped)} targets in "
          f"{stats.seconds:.0f} s ({per * 1000:.0f} ms a program, {stats.shrink_runs} shrinking runs); "
          f"{stats.rejected} rejected by the compiler, {stats.diverged} diverged")
    print("  time in each target's worker: " + ", ".join(f"{t} {s:.0f} s" for t, s in stats.target_seconds.items()))
    for sig, n in sorted(stats.seen.items(), key=lambda kv: -kv[1]):
        print(f"  {n:5} x {sig}")
    print(f"  {len(stats.failures)} new failure signatures (each printed, shrunk, when found)")
    return 1 if stats.failures else 0
