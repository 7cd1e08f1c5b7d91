"""The notebook step of `d2lc test`: run the chapters' notebooks on every target and compare them."""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from d2lc.harness.known import KnownFileError, find_known_file, read_known


NOTEBOOK_DIVERGENCES = Path("tests") / "known_notebook_divergences.txt"


def add_notebook_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-notebooks", dest="notebooks", action="store_false",
                   help="skip running the chapters' notebooks (by default every target's notebook runs, small, and "
                        "every top-level value and printed value is compared with the reference target's)")
    p.add_argument("--known-divergences", metavar="FILE", default=None,
                   help="notebook divergences reported as known, lines `chapter.md:LINE variable | target | reason` "
                        f"(default: {NOTEBOOK_DIVERGENCES} in the nearest folder above the chapters or the working "
                        "folder); 'none' to report them all")
    p.add_argument("--notebook-timeout", type=float, default=900.0, metavar="SECONDS",
                   help="limit for one notebook on one target (default: 900)")


def run_notebook_step(args: argparse.Namespace, backends: list, reference: str, paths: list[Path]) -> tuple[bool, bool]:
    """Compare the notebooks of the chapters under `paths`; print divergences. Returns (none is new, some value
    was compared)."""
    from d2lc.harness.notebooks import NotebookReport, compare_notebooks, fake_data_root, prepare_all
    from d2lc.harness.session import Session
    report = NotebookReport()
    programs = prepare_all(paths, backends, report)
    root = fake_data_root()
    cache = None if getattr(args, "cache_dir", "none") == "none" else Path(args.cache_dir)
    try:
        with Session(backends, args.device, args.timeout, cache_dir=cache) as session:
            session.start()
            run = compare_notebooks(session, programs, reference, root / "nb", args.notebook_timeout)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    run.divergences[:0] = report.divergences
    option = args.known_divergences
    known_file = None if option == "none" else (Path(option) if option else find_known_file(NOTEBOOK_DIVERGENCES, paths))
    try:
        known = read_known(known_file) if known_file else {}
    except (OSError, KnownFileError) as exc:
        print(f"d2lc test: --known-divergences: {exc}", file=sys.stderr)
        return False, run.compared > 0
    new = [d for d in run.divergences if (d.key, d.target) not in known]
    print(f"\nnotebooks: {run.notebooks} run, {run.compared} values compared ({run.by_value} by value, the rest by "
          f"dtype and shape), {len(run.divergences)} divergences ({len(run.divergences) - len(new)} known)")
    for t, why in run.skipped.items():
        print(f"  {t}: skipped ({why})")
    for d in new:
        print(f"  DIVERGES: {d}")
    if new and known_file is None:
        print("  (list accepted divergences with a reason in a file and pass it as --known-divergences)", file=sys.stderr)
    return not new, run.compared > 0
