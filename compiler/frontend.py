"""The front end: chapter text -> typed IR module (parse, lower, and the analysis passes)."""
from __future__ import annotations

import re

from .ast import to_ast
from .chapter import split_chapter
from .depth import check_depth
from .diagnostics import CompileError, Diagnostic, DiagnosticBag, Loc
from .ir import Cell, Module
from .lower import Lowerer
from .names import rename_reserved
from .parser import parse_cell
from .passes import run_passes


def compile_chapter(text: str, path: str, known_targets: set[str]) -> Module:
    """Parse and type-check a chapter; raises CompileError with every diagnostic found."""
    bag = DiagnosticBag()
    surrogate = _lone_surrogate(text, path)
    if surrogate is not None:  # not from a file (decoding rejects it), but from a caller's string
        raise CompileError([surrogate])
    raw_cells, chapter_diags, title = split_chapter(text, path, known_targets)
    bag.items.extend(chapter_diags)
    lowerer = Lowerer(bag)
    cells: list[Cell] = []
    for raw in raw_cells:
        if raw.kind == "markdown":
            cells.append(Cell("markdown", raw.text, only=raw.only, line=raw.line))
            continue
        tree, errors = parse_cell(raw.text, path, raw.line)
        bag.items.extend(errors)
        nodes = to_ast(tree, path, raw.line) if tree is not None else []
        too_deep = check_depth(nodes)
        if too_deep is not None:
            bag.items.append(too_deep)
            nodes = []
        stmts = lowerer.block(nodes)
        cells.append(Cell("code", raw.text, stmts, only=raw.only, line=raw.line, tags=raw.tags))
    module = Module(path, title or path, cells, dict(lowerer.functions))
    if not bag:
        run_passes(module, bag)
    bag.raise_if_any()
    module.renamed = rename_reserved(module)
    return module


def _lone_surrogate(text: str, path: str) -> Diagnostic | None:
    """An error for the first lone surrogate in the text (no UTF-8 file can hold one), or None."""
    m = re.search("[\ud800-\udfff]", text)
    if m is None:
        return None
    line = text.count("\n", 0, m.start()) + 1
    col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
    return Diagnostic(Loc(path, line, col), f"a lone surrogate character (U+{ord(m.group()):04X}) in the text",
                      expected="text that can be written as UTF-8", hint="remove the character")


def check_source(text: str, path: str, known_targets: set[str]) -> list:
    """Diagnostics for a chapter (empty when it compiles)."""
    try:
        compile_chapter(text, path, known_targets)
    except CompileError as exc:
        return exc.diagnostics
    return []
