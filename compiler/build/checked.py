"""The checked IR of a chapter for the installed targets: passes/pipeline.py, given the names their code binds."""
from __future__ import annotations

import ast
from functools import lru_cache
from importlib import import_module
from pathlib import Path

from d2lc.core.ir import Module
from d2lc.emit.backend import registry
from d2lc.passes import pipeline
from d2lc.passes.names import TargetNames

SHARED_SNIPPETS = Path(import_module("d2lc.emit").__file__).parent / "snippets"


def _defined_at_top(path: Path) -> set[str]:
    """Functions, classes and variables a snippet file defines at its top level."""
    out: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.Assign):
            out |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return out


@lru_cache(maxsize=1)
def installed_target_names() -> TargetNames:
    """The imports and emitted helpers of every installed target (read once per process)."""
    imports: set[str] = set()
    member_imports: set[str] = set()
    members: set[str] = set()
    emitted: set[str] = set()
    helpers: set[str] = set()
    snippet_dirs = [SHARED_SNIPPETS]
    for backend in registry().values():
        imports |= set(backend.imports)
        members |= backend.member_names
        emitted |= backend.emitted_names
        if backend.members_are_locals:
            member_imports |= set(backend.imports)
        snippet_dirs.append(Path(import_module(backend.emitter.__module__).__file__).parent / "snippets")
    for folder in snippet_dirs:
        for f in sorted(folder.glob("*.py")):
            helpers.add(f.stem)
            helpers |= _defined_at_top(f)
    return TargetNames(frozenset(imports), frozenset(helpers), frozenset(member_imports), frozenset(members),
                       frozenset(emitted))


def compile_chapter(text: str, path: str, known_targets: set[str],
                    saved: tuple[tuple[str, str, int], ...] | None = None) -> Module:
    """Parse and type-check a chapter; raises CompileError with every diagnostic found.

    `saved`: the definitions earlier sections of its book saved that it calls (build/placement.saved_cells); when
    not given and `path` is a chapter file of a book with a [toc], they are found there."""
    if saved is None:
        from d2lc.build.placement import saved_cells_for
        saved = saved_cells_for(Path(path), text)
    return pipeline.compile_chapter(text, path, known_targets, target_names=installed_target_names(), saved=saved)

