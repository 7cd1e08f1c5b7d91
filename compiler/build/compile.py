"""The compile driver: chapters -> notebooks on disk, all or nothing, via temp files and renames."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from d2lc.emit.backend import Backend
from d2lc.build.book import Book, Chapter, book_for, find_chapters as book_chapters
from d2lc.build.install import Wheel, wheel_for
from d2lc.build.placement import book_saved_cells, in_reading_order, place_helpers
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
    book = _book_of(chapters)
    saved = _saved(book) if book is not None else {}
    compiled = compile_chapters(tasks, jobs, progress, cache, saved=saved)
    placement, wheel = _placement(book, chapters, compiled, names, display_root, jobs, cache, saved)
    if placement:  # the sections that import helpers an earlier section introduced, compiled again with the imports
        again = [i for i, c in enumerate(chapters) if c.source in placement and not compiled[i].errors]
        redone = compile_chapters([tasks[i] for i in again], jobs, None, cache, placement, wheel, saved)
        for i, done in zip(again, redone):
            done.from_cache = min(done.from_cache, compiled[i].from_cache)
            compiled[i] = done
    for chapter, task, done in zip(chapters, tasks, compiled):
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


def _book_of(chapters: list[Chapter]) -> Book | None:
    """The book with a [toc] that every chapter belongs to, or None (then every helper is pasted)."""
    if not chapters:
        return None
    book = book_for(chapters[0].file)
    if not book.toc or not book.sources_dir.is_dir() or any(book_for(c.file).root != book.root for c in chapters):
        return None
    return book


def _saved(book: Book) -> dict:
    """source -> the definitions earlier sections saved that it calls (build/placement.py)."""
    every = book_chapters([book.sources_dir])
    texts = {}
    for c in every:
        try:
            texts[c.source] = c.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):  # the compile reports it
            continue
    return {s: cells for s, cells in book_saved_cells(book, in_reading_order(book, every), texts).items() if cells}


def _placement(book: Book | None, chapters: list[Chapter], compiled: list[ChapterResult], names: list[str],
               display_root: Path | None, jobs: int | None, cache: NotebookCache | None,
               saved: dict) -> tuple[dict, Wheel | None]:
    """What each section imports from its book's library (build/placement.py): from the needs of every section of
    the book (the ones not compiled here are compiled for it), when the book has a [toc]; else nothing."""
    if book is None:
        return {}, None
    usage = {c.source: done.usage for c, done in zip(chapters, compiled)}
    rest = [c for c in book_chapters([book.sources_dir]) if c.source not in usage]
    if rest:  # sections outside this build: only their needs are wanted
        tasks = [(str(c.file), c.source, _display(c.file, display_root), names) for c in rest]
        for c, done in zip(rest, compile_chapters(tasks, jobs, None, cache, saved=saved)):
            usage[c.source] = done.usage
    every = book_chapters([book.sources_dir])
    return place_helpers(book, in_reading_order(book, every), usage, names), wheel_for(book)


def _display(path: Path, root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)

