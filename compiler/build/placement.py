"""Where each helper appears in full: the first section in the book's order that needs it (book.toml [toc]).

A section compiled alone pastes every helper it needs. In a book, the first section (in reading order) that
needs a helper keeps its full code, so readers learn it there; every later section imports it from the book's
library (`from d2lbook.torch import train`). What a section needs does not depend on where its helpers come
from, so the book is compiled in two steps: each section's needs (cached with its notebook), then the
placement, then the sections that import something, compiled again with their imports.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

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


SavedCell = tuple[str, str, int]  # (defining file, the `@save` definition's lines, its first line there)
_DEF = re.compile(r"^(?:def|model)\s+([A-Za-z_]\w*)")


@dataclass(frozen=True)
class SavedBlock:
    name: str
    source: str
    code: str
    line: int


def saved_blocks(chapter: Chapter, text: str) -> list[SavedBlock]:
    """The `@save` definitions of a chapter's text, each as its lines (marker included), read without compiling."""
    from d2lc.front.chapter import split_chapter
    out = []
    for raw in split_chapter(text, chapter.source, set())[0]:
        if raw.kind != "code" or "@save" not in raw.text:
            continue
        lines = raw.text.splitlines()
        for i, head in enumerate(lines):
            m = _DEF.match(lines[i + 1]) if head.rstrip() == "@save" and i + 1 < len(lines) else None
            if m is None:
                continue
            end = i + 2
            while end < len(lines) and (lines[end][:1] in (" ", "\t") or not lines[end].strip()):
                end += 1
            while not lines[end - 1].strip():
                end -= 1
            out.append(SavedBlock(m.group(1), chapter.source, "\n".join(lines[i:end]) + "\n", raw.line + i))
    return out


def saved_cells(before: list[SavedBlock], text: str) -> tuple[SavedCell, ...]:
    """The saved definitions (from earlier sections, in reading order) a chapter's `text` calls and does not define
    itself, with the saved definitions those call."""
    first: dict[str, SavedBlock] = {}
    for b in before:
        first.setdefault(b.name, b)
    own = set(re.findall(r"^(?:def|model)\s+([A-Za-z_]\w*)", text, re.M))
    wanted = {n for n in first if n not in own and re.search(rf"\b{re.escape(n)}\b", text)}
    grew = True
    while grew:  # a saved definition that calls another saved one
        more = {n for n in first if n not in own and any(re.search(rf"\b{re.escape(n)}\b", first[w].code) for w in wanted)}
        grew = bool(more - wanted)
        wanted |= more
    return tuple((first[n].source, first[n].code, first[n].line) for n in first if n in wanted)


def book_saved_cells(book: Book, ordered: list[Chapter], texts: dict[str, str]) -> dict[str, tuple[SavedCell, ...]]:
    """source -> the saved cells of every chapter (`texts` by source; in reading order `ordered`)."""
    before: list[SavedBlock] = []
    out: dict[str, tuple[SavedCell, ...]] = {}
    for c in ordered:
        text = texts.get(c.source)
        if text is None:
            continue
        if before:
            out[c.source] = saved_cells(before, text)
        if "@save" in text:
            before.extend(saved_blocks(c, text))
    return out


def saved_cells_for(path: Path, text: str) -> tuple[SavedCell, ...]:
    """The saved cells of the chapter file `path` (with `text`) in its book; none outside a book with a [toc]."""
    from d2lc.build.book import book_for, find_chapters
    if not path.is_file():
        return ()
    book = book_for(path)
    if not book.toc or not book.sources_dir.is_dir() or not path.resolve().is_relative_to(book.sources_dir.resolve()):
        return ()
    here = book.relative(path)
    before: list[SavedBlock] = []
    for c in in_reading_order(book, find_chapters([book.sources_dir])):
        if c.source == here:
            return saved_cells(before, text)
        other = c.file.read_text(encoding="utf-8")
        if "@save" in other:
            before.extend(saved_blocks(c, other))
    return ()
