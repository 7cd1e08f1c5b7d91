"""Compile time against input size: a real chapter repeated 1x, 4x, 16x, 64x, deep nesting, big literals.

For each family it prints the seconds per size for the front end (parse, type-check, passes) and for
the front end plus PyTorch emission (libcst walk and black formatting included), and the growth
exponent k of time ~ size**k (least-squares fit of log time against log size). Linear time is k ~= 1;
the goal is k <= 1.1 up to 64x.
Run: .venv/bin/python benchmarks/scaling.py [--chapter PATH] [--no-emit] [--max-factor 64]
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Callable

from d2lc.emit.backend import get_backend, target_names
from d2lc.front.chapter import split_chapter
from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import build_notebook

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHAPTER = ROOT / "sources" / "chapter_preliminaries" / "ndarray.md"


def repeated_chapter(text: str, factor: int) -> str:
    """The chapter's title, then its cells `factor` times (a notebook may rebind its names)."""
    head, _, body = text.partition("\n")
    return head + "\n" + "\n".join([body] * factor)


def nested_blocks(depth: int) -> str:
    """`depth` if/for blocks inside one another, each with a few statements (size ~ depth)."""
    lines = ["x = 0", "X = ones((3, 4))"]
    for d in range(depth):
        pad = "    " * d
        lines += [f"{pad}if x < {d + 100}:" if d % 2 == 0 else f"{pad}for i{d} in range(2):",
                  f"{pad}    x = x + 1", f"{pad}    X[0, 0] = X[0, 0] + 1.0", f"{pad}    Y = X.T"]
    return "# Nested\n\n```d2l\n" + "\n".join(lines) + "\nprint(x, X)\n```\n"


def big_literal(elements: int) -> str:
    """One tensor literal with `elements` numbers, in rows of 100."""
    rows = ["[" + ", ".join(f"{(r * 100 + c) % 97 / 10}" for c in range(100)) + "]" for r in range(elements // 100)]
    return "# Literal\n\n```d2l\nX = tensor([" + ",\n    ".join(rows) + "])\nprint(X.sum())\n```\n"


def seconds(fn: Callable[[], object], repeat: int) -> float:
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def exponent(sizes: list[float], times: list[float]) -> float:
    """The slope of log(time) against log(size), by least squares."""
    xs, ys = [math.log(s) for s in sizes], [math.log(max(t, 1e-6)) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def measure(name: str, make: Callable[[int], str], sizes: list[int], emit: bool, repeat: int) -> None:
    targets = set(target_names())
    backend = get_backend("pytorch")
    compile_chapter(make(sizes[0]), "warmup.md", targets)  # load the registry and the grammar first
    front, full = [], []
    for size in sizes:
        text = make(size)
        front.append(seconds(lambda: compile_chapter(text, "scaling.md", targets), repeat))
        if emit:
            full.append(seconds(lambda: build_notebook(compile_chapter(text, "scaling.md", targets), backend), 1))
    lines = [sum(len(c.text.splitlines()) for c in split_chapter(make(s), "x", targets)[0] if c.kind == "code")
             for s in sizes]
    print(f"{name}: sizes {sizes} ({lines[0]}..{lines[-1]} DSL lines)")
    print(f"  front end      : {' '.join(f'{t:.3f}s' for t in front)}  exponent {exponent(sizes, front):.2f}")
    if emit:
        print(f"  + pytorch emit : {' '.join(f'{t:.3f}s' for t in full)}  exponent {exponent(sizes, full):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chapter", type=Path, default=DEFAULT_CHAPTER)
    ap.add_argument("--no-emit", action="store_true", help="time the front end only")
    ap.add_argument("--max-factor", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    factors = [f for f in (1, 4, 16, 64) if f <= args.max_factor]
    text = args.chapter.read_text(encoding="utf-8")
    emit = not args.no_emit
    measure(f"chapter {args.chapter.name} repeated", lambda f: repeated_chapter(text, f), factors, emit, args.repeat)
    measure("nested if/for blocks (depth)", nested_blocks, [2, 5, 10, 20, 40], emit, args.repeat)
    measure("tensor literal (elements)", big_literal, [1000 * f for f in factors], emit, args.repeat)


if __name__ == "__main__":
    main()
