"""Notebook assembly: one nbformat 4.5 notebook per (chapter, target), byte-for-byte reproducible."""
from __future__ import annotations

import hashlib
import sys
from contextlib import contextmanager

import nbformat
from nbformat.v4 import new_notebook

from d2lc.build.install import Wheel, install_cell, pinned_versions
from d2lc.emit.backend import Backend
from d2lc.emit.library import Library
from d2lc.emit.base import Emitter
from d2lc.emit.prose import render_prose
from d2lc.core.ir import Module


def cell_id(path: str, index: int, kind: str, source: str) -> str:
    """A stable id: the cell's position and a digest of its source text and chapter path."""
    digest = hashlib.sha1(f"{path}\0{index}\0{source}".encode()).hexdigest()[:10]
    return f"{kind[:2]}{index:03d}-{digest}"


def emit_cells(module: Module, backend: Backend) -> list[tuple[str, str, str]]:
    return [(k, src, seed) for k, src, seed, _ in emit_tagged_cells(module, backend)]


def emit_tagged_cells(module: Module, backend: Backend) -> list[tuple[str, str, str, tuple[str, ...]]]:
    """(kind, source, id-seed, tags) of a chapter's cells on one target; the setup cell comes before the first code cell."""
    return [cell[:4] for cell in emit_indexed_cells(module, backend)]


def emit_indexed_cells(module: Module, backend: Backend) -> list[tuple[str, str, str, tuple[str, ...], int | None]]:
    """As `emit_tagged_cells`, each cell with the index of the IR cell it comes from (None for the setup cell)."""
    return _emit(module, backend, None)[0]


EMIT_RECURSION_LIMIT = 4000  # the emitters take about 10 frames per level of the 100 that front/depth.py allows


@contextmanager
def _deep_enough():
    """Python's recursion limit raised (never lowered) while a notebook is emitted, and put back after."""
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(before, EMIT_RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


def _emit(module: Module, backend: Backend, library: Library | None):
    """The cells (as `emit_indexed_cells`) and the emitter that made them (its helpers_emitted, imported)."""
    with _deep_enough():
        return _emit_cells(module, backend, library)


def _emit_cells(module: Module, backend: Backend, library: Library | None):
    em: Emitter = backend.emitter(backend, module)
    em.use_library(library)
    em.imported_saved = set()
    out: list[tuple[str, str, str, tuple[str, ...], int | None]] = []
    first_code = None
    for index, cell in enumerate(module.cells):
        if cell.only is not None and backend.name not in cell.only and not set(cell.only) & set(backend.aliases):
            continue
        if cell.kind == "markdown":
            out.append(("markdown", render_prose(cell.source, backend), cell.source, (), index))
        elif cell.saved_from is not None and library is not None and saved_names(cell) <= library.helpers:
            emitted, imported = set(em.helpers_emitted), dict(em.imported)
            em.cell_code(cell.stmts)  # imported: emitted only for what the emitter learns from it, then dropped
            em.helpers_emitted, em.imported = emitted, imported
            em.imported_saved |= saved_names(cell)
        else:
            code = em.cell_code(cell.stmts)
            if code.strip():
                if first_code is None:
                    first_code = len(out)
                out.append(("code", code, cell.source, cell.tags, index))
    setup = em.setup_code("\n".join(src for kind, src, *_ in out if kind == "code"))
    if setup:
        out.insert(first_code if first_code is not None else len(out), ("code", setup, "<setup>", (), None))
    return out, em


def saved_names(cell) -> set[str]:
    """The names a cell of other sections' saved definitions defines."""
    return {s.name for s in cell.stmts if hasattr(s, "name") and hasattr(s, "save")}


def build_notebook(module: Module, backend: Backend, requirements: tuple[str, ...] = (),
                   library: Library | None = None, wheel: Wheel | None = None) -> str:
    """The notebook for `module` on `backend`, as JSON text (validated).

    With `requirements` (pip requirements, see d2lc.build.install), the first code cell installs them
    where the target's framework is missing, and the metadata records the pinned versions. With `library`,
    the helpers it names are imported from the book's library (installed from `wheel` where missing)."""
    return build_notebook_and_usage(module, backend, requirements, library, wheel)[0]


def build_notebook_and_usage(module: Module, backend: Backend, requirements: tuple[str, ...] = (),
                             library: Library | None = None, wheel: Wheel | None = None) -> tuple[str, frozenset[str]]:
    """As `build_notebook`, with the helpers the notebook needs (pasted or imported): what decides their placement."""
    nb = new_notebook()
    nb.nbformat, nb.nbformat_minor = 4, 5
    cells, em = _emit(module, backend, library)
    imports = bool(library is not None and em.library_import("\n".join(c[1] for c in cells)))
    for i, (kind, source, seed, tags, _) in enumerate(cells):
        if requirements and seed == "<setup>":  # the install cell comes first; the other cells keep their ids
            nb.cells.append(_code_cell(cell_id(module.path, 0, "install", seed),
                                       install_cell(backend.environment.packages, requirements,
                                                    wheel if imports else None), ()))
        cid = cell_id(module.path, i, kind, seed)
        if kind == "code":
            nb.cells.append(_code_cell(cid, source, tags))
        else:
            nb.cells.append(nbformat.NotebookNode({"cell_type": kind, "id": cid, "metadata": {}, "source": source}))
    info = {"source": module.path, "target": backend.name, "title": module.title}
    if any(c.id.startswith("in000-") for c in nb.cells):
        info["versions"] = pinned_versions(requirements + ((wheel.requirement,) if imports and wheel else ()))
    nb.metadata = {
        "kernelspec": dict(sorted(backend.kernelspec.items())),
        "language_info": {"name": "python"},
        "d2lc": info,
    }
    nbformat.validate(nb)
    own = {s.name for c in module.cells for s in c.stmts if getattr(s, "save", False) or c.saved_from is not None}
    return nbformat.writes(nb) + "\n", frozenset(em.helpers_emitted | own)


def _code_cell(cid: str, source: str, tags: tuple[str, ...]) -> nbformat.NotebookNode:
    cell = nbformat.NotebookNode({"cell_type": "code", "id": cid, "metadata": {}, "source": source,
                                  "execution_count": None, "outputs": []})
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell
