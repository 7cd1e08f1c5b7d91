"""The compile driver: chapters -> notebooks on disk, all or nothing, via temp files and renames."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from d2lc.emit.backend import Backend
from d2lc.build.book import find_chapters as book_chapters
from d2lc.core.cache import NotebookCache
from d2lc.core.diagnostics import Diagnostic
from d2lc.build.outputs import write_all

if TYPE_CHECKING:
    from d2lc.build.incremental import ChapterResult


@dataclass
class BuildResult:
    outputs: dict[Path, str] = field(default_factory=dict)  # path -> notebook text, not yet written
    errors: dict[str, list[Diagnostic]] = field(default_factory=dict)  # file -> its diagnostics
    from_cache: int = 0  # how many of `outputs` the compile cache supplied (not compiled again)


def find_chapters(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(chapter file, path relative to its book's sources folder) for every .md under the given paths, sorted."""
    return [(c.file, c.rel) for c in book_chapters(paths)]


def chapter_files_under(folder: Path) -> list[Path]:
    """Every .md file under `folder`, sorted; linked folders are followed (each real folder once, so no loop)."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for here, dirs, files in os.walk(folder, followlinks=True):
        st = os.stat(here)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        found.extend(Path(here) / f for f in files if f.endswith(".md") and os.path.isfile(os.path.join(here, f)))
    return sorted(found)


def build(paths: list[Path], backends: list[Backend | str], out_dir: Path, display_root: Path | None = None,
          jobs: int | None = None, progress: Callable[[str], None] | None = None,
          cache: NotebookCache | None = None) -> BuildResult:
    """Compile every chapter for every backend (given as backends or names) in memory, through `cache` when
    given, the rest in parallel processes; nothing is written here.

    Ids, metadata and output paths come from each chapter's path relative to its book root, never from
    the working directory; diagnostics name files as seen from `display_root` (default: the cwd)."""
    chapters = book_chapters(paths)
    names = [b if isinstance(b, str) else b.name for b in backends]
    tasks = [(str(c.file), c.source, _display(c.file, display_root), names) for c in chapters]
    result = BuildResult()
    for chapter, task, done in zip(chapters, tasks, compile_tasks(tasks, jobs, progress, cache)):
        if done.errors:
            result.errors[task[2]] = done.errors
        result.from_cache += done.from_cache
        for target, text in done.outputs.items():
            result.outputs[out_dir / target / chapter.rel.with_suffix(".ipynb")] = text
    return result


def compile_tasks(tasks: list[tuple[str, str, str, list[str]]], jobs: int | None = None,
                  progress: Callable[[str], None] | None = None,
                  cache: NotebookCache | None = None) -> list["ChapterResult"]:
    """Compile each (file, book-relative source, shown name, targets) task; notebooks in `cache` are taken
    from it, the rest compiled in up to `jobs` processes (compiler/incremental.py).

    `progress` is called with the shown name of each chapter as it finishes."""
    from d2lc.build.incremental import compile_chapters
    return compile_chapters(tasks, jobs, progress, cache)


def compile_source(task: tuple[str, str, str, list[str]]) -> tuple[dict[str, str], list[Diagnostic]]:
    """One chapter's text (with its book-relative source, shown name and targets): (target -> notebook text,
    diagnostics)."""
    from d2lc.emit.backend import get_backend, registry
    from d2lc.core.diagnostics import CompileError
    from d2lc.emit.base import EmitError
    from d2lc.passes.pipeline import compile_chapter
    from d2lc.build.notebook import build_notebook
    text, source, shown, names = task
    known = set(registry()) | {a for b in registry().values() for a in b.aliases}
    try:
        module = compile_chapter(text, source, known)
    except CompileError as exc:
        return {}, [_shown_as(d, source, shown) for d in exc.diagnostics]
    outputs, errors = {}, []
    for name in names:
        try:
            outputs[name] = build_notebook(module, get_backend(name))
        except EmitError as exc:
            errors.append(_shown_as(exc.diagnostic, source, shown))
    return (outputs if not errors else {}), errors


def _shown_as(diag: Diagnostic, source: str, shown: str) -> Diagnostic:
    """The diagnostic naming the file as the user spelt it (compiles name it by its book-relative path)."""
    if diag.loc.file != source:
        return diag
    return dataclasses.replace(diag, loc=dataclasses.replace(diag.loc, file=shown))


def _display(path: Path, root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


def write_outputs(outputs: dict[Path, str], out_dir: Path) -> list[Path]:
    """Write every output under `out_dir` all or nothing (see `outputs.write_all`); returns the files that changed."""
    return write_all(outputs, out_dir)
