"""The definitions a book marks `@save`: found in reading order, emitted per target as their section shows them.

They go into the book's library after the built-in helpers (build/library.py). A name saved by two sections is an
error at the second marker, naming the first; so is a saved definition that reads one of its chapter's top-level
values (the library has no chapter around it).
"""
from __future__ import annotations

from dataclasses import dataclass

import libcst as cst

from d2lc.build.book import Book, find_chapters
from d2lc.build.placement import in_reading_order
from d2lc.core import ir
from d2lc.core.diagnostics import Diagnostic, Loc
from d2lc.emit.backend import Backend
from d2lc.emit.comments import with_comments
from d2lc.emit.fmt import is_snippet, render


@dataclass(frozen=True)
class Saved:
    source: str  # the defining section, relative to the book root
    title: str
    stmt: ir.FuncDef | ir.ModelDef
    module: ir.Module


def saved_definitions(book: Book) -> tuple[list[Saved], list[Diagnostic]]:
    """Every `@save` definition of the book in reading order, and the errors of misuse across sections."""
    found: list[Saved] = []
    errors: list[Diagnostic] = []
    first: dict[str, Loc] = {}
    chapters = in_reading_order(book, find_chapters([book.sources_dir])) if book.sources_dir.is_dir() else []
    for chapter in chapters:
        text = chapter.file.read_text(encoding="utf-8")
        if "@save" not in text:  # most sections: no compile, no backend loaded
            continue
        from d2lc.build.checked import compile_chapter
        from d2lc.core.diagnostics import CompileError
        from d2lc.emit.backend import registry
        known = set(registry()) | {a for b in registry().values() for a in b.aliases}
        try:
            module = compile_chapter(text, chapter.source, known)
        except CompileError as exc:  # the compile reports these; the library leaves the section out
            errors.extend(exc.diagnostics)
            continue
        tops = {n for s in module.stmts() if isinstance(s, (ir.Assign, ir.Unpack)) for n in ir.bound_names(s)}
        for s in module.stmts():
            if not isinstance(s, (ir.FuncDef, ir.ModelDef)) or not s.save:
                continue
            if s.name in first:
                errors.append(Diagnostic(s.loc, f"`{s.name}` is saved to the library twice (first in "
                                                f"{first[s.name].file}:{first[s.name].line})",
                                         expected="one `@save` definition per name in the book",
                                         hint="remove this `@save`, or give the definition its own name"))
                continue
            reads = sorted(_globals_read(s) & tops)
            if reads:
                errors.append(Diagnostic(s.loc, f"saved `{s.name}` reads `{reads[0]}`, a top-level value of its chapter",
                                         expected="a saved definition that uses only its parameters and the library",
                                         hint=f"pass `{reads[0]}` as a parameter, or do not save `{s.name}`"))
                continue
            first[s.name] = s.loc
            found.append(Saved(chapter.source, module.title, s, module))
    return found, errors


def _globals_read(s: ir.FuncDef | ir.ModelDef) -> set[str]:
    from d2lc.build.modgen import _free_names
    return _free_names(s)


def saved_code(saved: list[Saved], backend: Backend) -> list[tuple[str, str]]:
    """(name, code) of each saved definition on `backend`, as its section's notebook writes it."""
    out = []
    emitters: dict[int, object] = {}
    for item in saved:
        em = emitters.get(id(item.module))
        if em is None:
            em = emitters[id(item.module)] = backend.emitter(backend, item.module)
            em.use_library(None)
        body = [st for st in em.stmt(item.stmt) if not is_snippet(st)]  # the built-in helpers are in the library
        where = f"Saved in {item.source.removeprefix(book_prefix(item.source))} ({item.title})."
        body = [_documented(st, where) if isinstance(st, (cst.FunctionDef, cst.ClassDef)) else st for st in body]
        out.append((item.stmt.name, render(list(with_comments([], body, item.stmt.comments)))))
    return out


def _documented(node: cst.FunctionDef | cst.ClassDef, text: str) -> cst.FunctionDef | cst.ClassDef:
    """The definition with a docstring saying where the book teaches it (a DSL definition has none of its own)."""
    quoted = '"""' + text.replace('"', "'").replace("\\", "/") + '"""'
    doc = cst.SimpleStatementLine([cst.Expr(cst.SimpleString(quoted))])
    return node.with_changes(body=node.body.with_changes(body=[doc, *node.body.body]))


def book_prefix(source: str) -> str:
    """`sources/`: the part of a section's path before its chapter folder."""
    return source[:source.index("chapter_")] if "chapter_" in source else ""
