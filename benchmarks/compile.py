"""Compile speed: every chapter in sources/ to every target, against jupytext on the same Markdown.

Reports ms per section (parse + type-check + emit for all targets + notebook assembly), DSL lines
per second, and the ratio to jupytext's Markdown -> notebook conversion of the same files.
Run: .venv/bin/python benchmarks/compile.py [--repeat N]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from d2lc.backend import get_backend, target_names
from d2lc.chapter import split_chapter
from d2lc.frontend import compile_chapter
from d2lc.notebook import build_notebook

ROOT = Path(__file__).resolve().parent.parent


def dsl_lines(text: str, names: set[str]) -> int:
    cells, _, _ = split_chapter(text, "x", names)
    return sum(len([l for l in c.text.splitlines() if l.strip()]) for c in cells if c.kind == "code")


def time_d2lc(files: list[Path], repeat: int) -> list[float]:
    backends = [get_backend(n) for n in target_names()]
    names = {b.name for b in backends}
    per_file = []
    for f in files:
        text = f.read_text(encoding="utf-8")
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            module = compile_chapter(text, str(f), names)
            for b in backends:
                build_notebook(module, b)
            runs.append(time.perf_counter() - t0)
        per_file.append(statistics.median(runs))
    return per_file


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("paths", nargs="*", default=[str(ROOT / "sources")])
    args = ap.parse_args()
    files = sorted(p for path in args.paths for p in (Path(path).rglob("*.md") if Path(path).is_dir() else [Path(path)]))
    names = set(target_names())
    lines = sum(dsl_lines(f.read_text(encoding="utf-8"), names) for f in files)
    time_d2lc(files[:1], 1)  # warm imports and caches (grammar, black)
    d2lc_times = time_d2lc(files, args.repeat)
    jt_times = time_jupytext(files, args.repeat)
    total = sum(d2lc_times)
    print(f"sections: {len(files)}   targets: {len(names)} ({', '.join(sorted(names))})   DSL lines: {lines}")
    print(f"{'section':60} {'d2lc ms':>9} {'jupytext ms':>12}")
    for i, f in enumerate(files):
        jt = f"{jt_times[i] * 1000:12.1f}" if jt_times else f"{'n/a':>12}"
        print(f"{str(f.relative_to(ROOT)) if f.is_relative_to(ROOT) else str(f):60} {d2lc_times[i] * 1000:9.1f} {jt}")
    print(f"\nd2lc: {total / len(files) * 1000:.1f} ms per section (all targets), {lines / total:.0f} DSL lines/s")
    if jt_times:
        jt_total = sum(jt_times)
        print(f"jupytext (md -> ipynb, one notebook per section): {jt_total / len(files) * 1000:.1f} ms per section")
        print(f"ratio d2lc / jupytext: {total / jt_total:.1f}x "
              f"(d2lc type-checks and emits {len(names)} notebooks per section; per notebook {total / jt_total / len(names):.1f}x)")


if __name__ == "__main__":
    main()
