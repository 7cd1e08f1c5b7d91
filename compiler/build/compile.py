"""The compile driver: chapters -> notebooks on disk, all or nothing, via temp files and renames."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from d2lc.emit.backend import Backend
from d2lc.build.book import find_chapters as book_chapters
from d2lc.core.cache import NotebookCache
from d2lc.core.diagnostics import Diagnostic
from d2lc.build.incremental import ChapterResult, compile_chapters



@dataclass
class BuildResult:
    outputs: dict[Path, str] = field(default_factory=dict)  # path -> notebook text, not yet written
    errors: dict[str, list[Diagnostic]] = field(default_factory=dict)  # file -> its diagnostics
    from_cache: int = 0  # how many of `outputs` the compile cache supplied (not compiled again)


def find_chapters(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(chapter file, path relative to its book's sources folder) for every .md under the given paths, sorted."""
    return [(c.file, c.rel) for c in book_chapters(paths)]


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
                  cache: NotebookCache | None = None) -> list[ChapterResult]:
    """Compile each (file, book-relative source, shown name, targets) task; notebooks in `cache` are taken
    from it, the rest compiled in up to `jobs` processes (incremental.py).

    `progress` is called with the shown name of each chapter as it finishes."""
    return compile_chapters(tasks, jobs, progress, cache)


def _display(path: Path, root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)

