"""`d2lc build` of the whole book (notebooks and the site), each run in a fresh process, on a copy of
the book in a temporary folder (the checkout's generated/ and build/ are never touched):

  cold            --no-cache with empty output, build and cache folders (everything compiled, Sphinx from scratch)
  warm            the same build again, nothing changed (min of --repeat runs)
  one chapter     one section's prose edited (a sentence appended): that chapter compiled again, its page
                  rebuilt by Sphinx (min of --repeat runs, each a different sentence)
  warm after      the build after that, nothing changed again

--execute GLOB adds `--execute --small --execute-only GLOB` to every build (keep GLOB to one section:
every target's notebook of it runs in a kernel on the cold build, and again after the edit when the
edited section matches GLOB). --d2lc CMD times another d2lc (e.g. a checkout's .venv/bin/d2lc) on the
same copy, for before/after figures taken in one session.
--in-place times `make book`'s build (`--execute --small`, every notebook executed) in the checkout
itself, after a `make book` there: warm, one chapter edited (its five notebooks compiled and executed
again, the others from the caches), warm after; the edited source is restored at the end (its build
then takes the executed copies from the cache). A cold whole-book executed build is `make book` on a
fresh clone (.ci/run prints its time).
Run: .venv/bin/python benchmarks/book_build.py [--repeat N] [--edit SECTION.md] [--execute GLOB] [--d2lc CMD]
                                               [--in-place]

Measured 2026-12-02 on the shared 2-core machine (load ~2.4), 38 sections x 5 targets, 39 site pages,
before (main 04f4b50, every stage checking its own cache) and after (the whole-build stamp, uptodate.py),
wall seconds, one session:
                                   before   after
  cold (--no-cache, empty folders)  13.9    11.2   (noise: the cold path did not change)
  warm, nothing changed              0.95    0.25  (of which 0.05 s hashing inputs and outputs)
  one chapter changed                2.7     3.2   (noise; its compile, the backends' import, Sphinx on one page)
  warm after the change              0.74    0.38
Measured 2026-12-02 (load 24-35 on the 2 cores), the whole book executed (`make book`'s build, 45 sections
incl. chapter indexes x 5 targets = 225 notebooks, 46 site pages), --in-place:
  cold, every notebook executed      38 min 47 s wall, 1409 s CPU (user 1115 + sys 294, kernels included;
                                     --jobs 4 because of the load; 210 executed, 15 from an aborted first run)
                                     -> about 12 min on 2 idle cores (CPU / 2)
  warm, nothing changed              0.59 s (0.2 s CPU)
  one chapter changed (calculus.md)  39.6 s (15.5 s CPU): 5 notebooks compiled and executed, 220 from the caches
  warm after the change              0.59 s
  the edit undone                    8.2 s: the 5 executed copies from the cache, none executed
Before, a warm build spent ~1.1 s importing the five backends (libcst alone ~0.5 s), ~0.5 s importing
nbformat/jsonschema for the site's pages and ~0.2 s on 190 compile-cache keys (cProfile, -X importtime);
Sphinx itself was already skipped by the site's page stamp.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EDIT = "chapter_preliminaries/calculus.md"


KEPT = ("chapters built", "nothing changed", "executed", "site:")  # the report lines a row shows


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    """(wall s, the build's report lines); the CPU seconds of the build and its kernels are appended to the report."""
    env = {k: v for k, v in os.environ.items() if k != "D2LC_CACHE_DIR"}
    before = os.times()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = os.times()
    cpu = after.children_user + after.children_system - before.children_user - before.children_system
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    lines = [line.removeprefix("d2lc: ") for line in proc.stderr.strip().splitlines() if any(k in line for k in KEPT)]
    return wall, f"cpu {cpu:.1f} s | " + " | ".join(line.split(" -> ")[0] for line in lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--edit", default=DEFAULT_EDIT, help="the section (under sources/) whose prose is edited")
    ap.add_argument("--execute", metavar="GLOB", help="also execute the sections matching GLOB (small parameters)")
    ap.add_argument("--d2lc", default=str(Path(sys.executable).with_name("d2lc")), help="the d2lc command to time")
    ap.add_argument("--in-place", action="store_true", help="time `make book`'s build in the checkout (see above)")
    args = ap.parse_args()
    if args.in_place:
        return in_place(args)
    with tempfile.TemporaryDirectory(prefix="d2lc-book-bench-") as tmp:
        book = Path(tmp) / "book"
        book.mkdir()
        shutil.copy(ROOT / "book.toml", book / "book.toml")
        shutil.copytree(ROOT / "sources", book / "sources")
        cmd = [args.d2lc, "build"] + (["--execute", "--small", "--execute-only", args.execute] if args.execute else [])
        rows = []
        wall, last = timed(cmd + ["--no-cache"], book)
        rows.append(("cold (--no-cache, empty folders)", wall, last))
        timed(cmd, book)  # fills the compile cache (a --no-cache build leaves it empty)
        warm = [timed(cmd, book) for _ in range(args.repeat)]
        rows.append(("warm, nothing changed", *min(warm)))
        edited = book / "sources" / args.edit
        original = edited.read_text(encoding="utf-8")
        changed = []
        for i in range(args.repeat):
            edited.write_text(original + f"\nA sentence added for the benchmark, number {i}.\n", encoding="utf-8")
            changed.append(timed(cmd, book))
        rows.append((f"one chapter changed ({args.edit})", *min(changed)))
        rows.append(("warm after the change", *min(timed(cmd, book) for _ in range(args.repeat))))
    print(f"d2lc build of the whole book with {args.d2lc} (wall s, min of {args.repeat} for the warm rows; "
          f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for label, wall, last in rows:
        print(f"  {label:<58} {wall:7.2f} s   {last[:90]}")


def in_place(args) -> None:
    cmd = [args.d2lc, "build", "--execute", "--small", "--jobs", "2"]
    rows = [("warm, nothing changed", *min(timed(cmd, ROOT) for _ in range(args.repeat)))]
    edited = ROOT / "sources" / args.edit
    original = edited.read_text(encoding="utf-8")
    try:
        edited.write_text(original + "\nA sentence added for the benchmark.\n", encoding="utf-8")
        rows.append((f"one chapter changed ({args.edit})", *timed(cmd, ROOT)))
        rows.append(("warm after the change", *min(timed(cmd, ROOT) for _ in range(args.repeat))))
    finally:
        edited.write_text(original, encoding="utf-8")
    rows.append(("the edit undone (executed copies from the cache)", *timed(cmd, ROOT)))
    print(f"make book's build in {ROOT} (wall s, min of {args.repeat} for the warm rows; "
          f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for label, wall, last in rows:
        print(f"  {label:<50} {wall:7.2f} s   {last[:160]}")


if __name__ == "__main__":
    main()
