"""The compile driver: chapters -> notebooks on disk, all or nothing, via temp files and renames."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .backend import Backend
from .diagnostics import CompileError, Diagnostic
from .emit.base import EmitError
from .frontend import compile_chapter
from .notebook import build_notebook


@dataclass
class BuildResult:
    outputs: dict[Path, str] = field(default_factory=dict)  # path -> notebook text, not yet written
    errors: dict[str, list[Diagnostic]] = field(default_factory=dict)  # file -> its diagnostics


def find_chapters(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(chapter file, path relative to the book root) for every .md under the given paths, sorted."""
    found: list[tuple[Path, Path]] = []
    for p in paths:
        if p.is_dir():
            for f in sorted(p.rglob("*.md")):
                found.append((f, f.relative_to(p)))
        else:
            root = next((a for a in p.resolve().parents if a.name == "sources"), p.resolve().parent)
            found.append((p, p.resolve().relative_to(root)))
    return found


def build(paths: list[Path], backends: list[Backend], out_dir: Path, display_root: Path | None = None) -> BuildResult:
    """Compile every chapter for every backend in memory; nothing is written here."""
    result = BuildResult()
    names = {b.name for b in backends} | {a for b in backends for a in b.aliases}
    from .backend import registry
    names |= set(registry())
    for chapter, rel in find_chapters(paths):
        shown = _display(chapter, display_root)
        try:
            text = chapter.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            from .diagnostics import Loc
            result.errors[shown] = [Diagnostic(Loc(shown, 1, 1), f"cannot read file: {exc}")]
            continue
        try:
            module = compile_chapter(text, shown, names)
        except CompileError as exc:
            result.errors[shown] = exc.diagnostics
            continue
        for backend in backends:
            try:
                nb = build_notebook(module, backend)
            except EmitError as exc:
                result.errors.setdefault(shown, []).append(exc.diagnostic)
                continue
            result.outputs[out_dir / backend.name / rel.with_suffix(".ipynb")] = nb
    return result


def _display(path: Path, root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


def write_outputs(outputs: dict[Path, str], out_dir: Path) -> list[Path]:
    """Write each output atomically (temp file + rename), refusing paths outside `out_dir`."""
    base = out_dir.resolve()
    written = []
    for path, text in sorted(outputs.items()):
        target = path.resolve()
        if not target.is_relative_to(base):
            raise ValueError(f"refusing to write outside the output folder: {path}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".d2lc-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        written.append(target)
    return written
