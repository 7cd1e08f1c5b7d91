"""The front end's one entry: chapter text -> typed IR module (split, parse, build the AST, lower)."""
from __future__ import annotations

from typing import Sequence

from d2lc.core.diagnostics import DiagnosticBag
from d2lc.core.ir import Cell, Module
from d2lc.front.ast import to_ast
from d2lc.front.chapter import split_chapter
from d2lc.front.comments import attach_comments, scan_comments
from d2lc.front.depth import check_depth
from d2lc.front.lower import Lowerer
from d2lc.front.lower_params import check_built
from d2lc.front.parser import parse_cell
from d2lc.front.roles import check_roles


def lower_chapter(text: str, path: str, known_targets: set[str], bag: DiagnosticBag,
                  saved: Sequence[tuple[str, str, int]] = ()) -> Module:
    """The chapter's cells lowered to typed IR; every problem found goes into `bag`.

    `saved` are definitions earlier sections saved ((file, code, first line) each): lowered first, each in a
    cell of its own marked `saved_from`, so the chapter can call them (its notebook imports them)."""
    raw_cells, chapter_diags, title = split_chapter(text, path, known_targets)
    bag.items.extend(chapter_diags)
    lowerer = Lowerer(bag)
    cells: list[Cell] = []
    for file, code, line in saved:
        tree, errors = parse_cell(code, file, line)
        bag.items.extend(errors)
        lowerer.importing = True
        try:
            stmts = lowerer.block(to_ast(tree, file, line) if tree is not None else [])
        finally:
            lowerer.importing = False
        cells.append(Cell("code", code, stmts, line=line, saved_from=file))
    lines = text.removeprefix("\ufeff").splitlines()
    for raw in raw_cells:
        if raw.kind == "markdown":
            if "}`" in raw.text:
                bag.items.extend(check_roles(raw.text, path, _first_line(lines, raw.text, raw.line)))
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
        attach_comments(stmts, scan_comments(raw.text, raw.line))
        cells.append(Cell("code", raw.text, stmts, only=raw.only, line=raw.line, tags=raw.tags))
    lowerer.settle_untyped_bodies()
    check_built(cells, bag)
    return Module(path, title or path, cells, dict(lowerer.functions))


def _first_line(lines: list[str], cell: str, near: int) -> int:
    """The file line where a prose cell's text starts (at or after `near`: blank lines before it are dropped)."""
    head = cell.split("\n", 1)[0]
    return next((i + 1 for i in range(near - 1, len(lines)) if lines[i] == head), near)
