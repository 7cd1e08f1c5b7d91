"""Options and arguments every subcommand shares: --target and the chapter PATHs."""
from __future__ import annotations

import argparse
from pathlib import Path

from d2lc.emit.backend import get_backend, target_names


def parse_targets(spec: str, parser: argparse.ArgumentParser) -> list:
    """The backends a --target value names; an empty or unknown name is a usage error."""
    names = target_names() if spec.strip() == "all" else [s.strip() for s in spec.split(",")]
    if not any(names):
        parser.error(f"--target={spec!r} names no target (known: {', '.join(target_names())}, all)")
    out = []
    for n in names:
        if not n:
            parser.error(f"--target={spec!r} has an empty name in its list")
        try:
            b = get_backend(n)
        except KeyError:
            from d2lc.core.diagnostics import did_you_mean
            hint = did_you_mean(n, target_names())
            parser.error(f"unknown target '{n}' (known: {', '.join(target_names())}, all)" + (f"; {hint}" if hint else ""))
        if b not in out:
            out.append(b)
    return out


def add_target_option(p: argparse.ArgumentParser, help: str) -> None:
    """`--target` (documented) and `--targets` (its alias): the same option in every subcommand."""
    p.add_argument("--target", "--targets", dest="target", default="all", metavar="TARGETS", help=help)


def chapter_paths(specs: list[str], parser: argparse.ArgumentParser) -> list[Path]:
    """The PATH arguments: each must exist, and a file must be a Markdown chapter (.md)."""
    paths = [Path(p) for p in specs]
    for p in paths:
        if not p.exists():
            parser.error(f"no such file or folder: {p}")
        if not p.is_dir() and p.suffix.lower() != ".md":
            parser.error(f"{p}: not a chapter (chapters are Markdown files ending in .md)")
    return paths
