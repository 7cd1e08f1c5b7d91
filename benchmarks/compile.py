"""Compile speed: every chapter in sources/ to every target, against jupytext on the same Markdown.

One run reports:
  cold per notebook  parse + type-check + emit + notebook assembly in this process, with the
                     compiler's in-process memos cleared before each run (CPU and wall ms);
  whole book         `d2lc compile --target=all` in a fresh process: cold (empty compile cache),
                     warm (nothing changed), one chapter touched, and --no-cache (CPU and wall s);
  jupytext           Markdown -> notebook for the same files, and the ratio d2lc / jupytext.
  --against-black    also formats every cell text the book produces with black 26 and counts the
                     texts where Ruff's formatter (what d2lc uses) differs, with the CPU of each.
Run: .venv/bin/python benchmarks/compile.py [--repeat N] [--jobs N] [--against-black] [PATH ...]
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from d2lc.emit.backend import get_backend, target_names
from d2lc.front.chapter import split_chapter
from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import build_notebook

ROOT = Path(__file__).resolve().parent.parent


def dsl_lines(text: str, names: set[str]) -> int:
    cells, _, _ = split_chapter(text, "x", names)
    return sum(len([l for l in c.text.splitlines() if l.strip()]) for c in cells if c.kind == "code")


def clear_memos() -> None:
    """Forget what this process memoised (formatted code, parsed snippets), so each run is cold."""
    try:
        from d2lc.emit.fmt import clear_memos as clear
    except ImportError:  # a compiler without memos has nothing to clear
        return
    clear()


def time_d2lc(files: list[Path], repeat: int) -> tuple[list[float], list[float]]:
    """Median (wall, CPU) seconds per file for all targets, cold in-process memos."""
    backends = [get_backend(n) for n in target_names()]
    names = {b.name for b in backends}
    walls, cpus = [], []
    for f in files:
        text = f.read_text(encoding="utf-8")
        runs = []
        for _ in range(repeat):
            clear_memos()
            t0, c0 = time.perf_counter(), time.process_time()
            module = compile_chapter(text, str(f), names)
            for b in backends:
                build_notebook(module, b)
            runs.append((time.perf_counter() - t0, time.process_time() - c0))
        walls.append(statistics.median(r[0] for r in runs))
        cpus.append(statistics.median(r[1] for r in runs))
    return walls, cpus


def time_jupytext(files: list[Path], repeat: int) -> list[float] | None:
    try:
        import jupytext
    except ImportError:
        return None
    per_file = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            nb = jupytext.reads(text, fmt="md:markdown")
            jupytext.writes(nb, fmt="ipynb")
            runs.append(time.perf_counter() - t0)
        per_file.append(statistics.median(runs))
    return per_file


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, its last output line) for one `d2lc` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "d2lc.cli.main", *args], env=env, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"d2lc {' '.join(args)} failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    return wall, cpu, lines[-1] if lines else ""


def whole_book(paths: list[str], jobs: int | None) -> list[tuple[str, float, float, str]]:
    """Cold, warm, one-chapter-touched and --no-cache builds of the whole book in fresh processes."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="d2lc-bench-") as tmp:
        book = Path(tmp) / "sources"
        for p in paths:
            shutil.copytree(p, book / Path(p).name) if Path(p).is_dir() else shutil.copy(p, book)
        env = dict(os.environ, D2LC_CACHE_DIR=str(Path(tmp) / "cache"))
        base = ["compile", "--target=all", str(book), "-o", str(Path(tmp) / "out")]
        base += [f"--jobs={jobs}"] if jobs else []
        rows.append(("cold (empty cache)", *run_cli(base, env)))
        rows.append(("warm (nothing changed)", *run_cli(base, env)))
        first = sorted(book.rglob("*.md"))[0]
        first.write_text(first.read_text(encoding="utf-8") + "\nOne more sentence.\n", encoding="utf-8")
        rows.append(("one chapter touched", *run_cli(base, env)))
        if supports("--no-cache"):
            rows.append(("--no-cache", *run_cli(base + ["--no-cache"], env)))
    return rows


def against_black(files: list[Path]) -> None:
    """Every distinct text the compiler formats for these files, formatted by both formatters."""
    import black
    from d2lc.emit import fmt
    seen: list[str] = []
    real = fmt.format_string

    def spy(code: str, *, line_width: int) -> str:
        seen.append(code)
        return real(code, line_width=line_width)

    fmt.format_string, names = spy, set(target_names())
    fmt.clear_memos()
    try:
        for f in files:
            module = compile_chapter(f.read_text(encoding="utf-8"), str(f), names)
            for n in sorted(names):
                build_notebook(module, get_backend(n))
    finally:
        fmt.format_string = real
    texts = sorted(set(seen))
    mode = black.Mode(line_length=fmt.LINE_LENGTH, target_versions={black.TargetVersion.PY311})
    c0 = time.process_time()
    by_black = [black.format_str(t, mode=mode) for t in texts]
    c1 = time.process_time()
    by_ruff = [real(t, line_width=fmt.LINE_LENGTH) for t in texts]
    c2 = time.process_time()
    differ = sum(a != b for a, b in zip(by_black, by_ruff))
    print(f"\nformatter check: {len(texts)} distinct cell texts; Ruff's formatter differs from black {black.__version__} "
          f"on {differ}; CPU black {c1 - c0:.2f} s, ruff {c2 - c1:.2f} s")


def supports(flag: str) -> bool:
    out = subprocess.run([sys.executable, "-m", "d2lc.cli.main", "compile", "--help"], capture_output=True, text=True).stdout
    return flag in out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=None, help="--jobs for the whole-book builds (default: d2lc's)")
    ap.add_argument("--against-black", action="store_true", help="compare the formatter with black on every cell")
    ap.add_argument("paths", nargs="*", default=[str(ROOT / "sources")])
    args = ap.parse_args()
    files = sorted(p for path in args.paths for p in (Path(path).rglob("*.md") if Path(path).is_dir() else [Path(path)]))
    names = set(target_names())
    lines = sum(dsl_lines(f.read_text(encoding="utf-8"), names) for f in files)
    time_d2lc(files[:1], 1)  # warm imports and caches (grammar, formatter)
    walls, cpus = time_d2lc(files, args.repeat)
    jt_times = time_jupytext(files, args.repeat)
    total, cpu_total, notebooks = sum(walls), sum(cpus), len(files) * len(names)
    print(f"sections: {len(files)}   targets: {len(names)} ({', '.join(sorted(names))})   DSL lines: {lines}")
    print(f"{'section':60} {'d2lc ms':>9} {'CPU ms':>8} {'jupytext ms':>12}")
    for i, f in enumerate(files):
        jt = f"{jt_times[i] * 1000:12.1f}" if jt_times else f"{'n/a':>12}"
        shown = str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f)
        print(f"{shown:60} {walls[i] * 1000:9.1f} {cpus[i] * 1000:8.1f} {jt}")
    print(f"\nd2lc cold, one process: {total / notebooks * 1000:.1f} ms wall, {cpu_total / notebooks * 1000:.1f} ms CPU "
          f"per notebook ({total / len(files) * 1000:.1f} ms per section, all targets), {lines / total:.0f} DSL lines/s")
    if jt_times:
        jt_total = sum(jt_times)
        print(f"jupytext (md -> ipynb, one notebook per section): {jt_total / len(files) * 1000:.1f} ms per section")
        print(f"ratio d2lc / jupytext: {total / jt_total:.1f}x per section "
              f"(d2lc type-checks and emits {len(names)} notebooks per section); per notebook {total / jt_total / len(names):.1f}x")
    jobs = args.jobs if args.jobs is None or supports("--jobs") else None
    rows = whole_book(args.paths, jobs)
    print(f"\nwhole book, `d2lc compile --target=all` in a fresh process ({notebooks} notebooks):")
    for label, wall, cpu, said in rows:
        print(f"  {label:24} {wall:7.2f} s wall {cpu:7.2f} s CPU   | {said}")
    if args.against_black:
        against_black(files)


if __name__ == "__main__":
    main()
