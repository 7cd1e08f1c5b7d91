"""Where each helper appears in full: the first section in the book's order that needs it (book.toml [toc]).

A section compiled alone pastes every helper it needs. In a book, the first section (in reading order) that
needs a helper keeps its full code, so readers learn it there; every later section imports it from the book's
library (`from d2lbook.torch import train`). What a section needs does not depend on where its helpers come
from, so the book is compiled in two steps: each section's needs (cached with its notebook), then the
placement, then the sections that import something, compiled again with their imports.
"""
from __future__ import annotations

from d2lc.build.book import Book, Chapter
from d2lc.emit.library import Library

Usage = dict[str, frozenset[str]]  # target -> the helpers a section's notebook needs


def in_reading_order(book: Book, chapters: list[Chapter]) -> list[Chapter]:
    """Chapters in the book's order: book.toml [toc] chapters (each index first, then its sections as listed,
    then the rest sorted), then the chapters the toc does not name, sorted."""
    folders = list(dict.fromkeys(c.rel.parent.as_posix() for c in sorted(chapters, key=lambda c: c.source)))
    folders = [f for f in book.toc if f in folders] + sorted(f for f in folders if f not in book.toc)

    def key(c: Chapter) -> tuple:
        order = book.toc.get(c.rel.parent.as_posix(), [])
        stem = c.rel.stem
        return (folders.index(c.rel.parent.as_posix()), stem != "index",
                order.index(stem) if stem in order else len(order), stem)
    return sorted(chapters, key=key)


def place_helpers(book: Book, ordered: list[Chapter], usage: dict[str, Usage],
                  targets: list[str]) -> dict[str, dict[str, Library]]:
    """source -> target -> what the section imports (only sections that import something), given each section's
    needs (`usage`, by source) in reading order."""
    placed: dict[str, dict[str, Library]] = {}
    for target in targets:
        introduced: set[str] = set()
        for chapter in ordered:
            needs = usage.get(chapter.source, {}).get(target, frozenset())
            earlier = needs & introduced
            if earlier:
                placed.setdefault(chapter.source, {})[target] = Library(book.library.name, frozenset(earlier))
            introduced |= needs
    return placed
