"""Compiling chapters through the compile cache: a notebook in the cache costs a hash, the rest
compile in parallel processes (one task per chapter, for the targets it still lacks)."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Callable

from d2lc.core.cache import NotebookCache, activate, content_key, notebook_key
from d2lc.front.chapter import decode_chapter
from d2lc.core.diagnostics import Diagnostic, Loc

Outputs = dict[str, str]  # target -> notebook text
Task = tuple[str, str, str, list[str]]  # (chapter file, book-relative source, shown name, targets)
Requirements = dict[str, tuple[str, ...]]  # target -> its install cell's pip requirements (book.toml [versions])


@dataclass
class ChapterResult:
    outputs: Outputs = field(default_factory=dict)
    errors: list[Diagnostic] = field(default_factory=list)
    from_cache: int = 0  # how many of `outputs` the cache supplied
    usage: dict[str, frozenset[str]] = field(default_factory=dict)  # target -> helpers its notebook needs


class UnknownTargets(KeyError):
    """Target names that are no loaded backend's name (e.g. an entry point named unlike its backend)."""


def compile_chapters(tasks: list[Task], jobs: int | None, progress: Callable[[str], None] | None,
                     cache: NotebookCache | None, placement: dict | None = None, wheel=None,
                     saved: dict | None = None) -> list[ChapterResult]:
    """One result per task, in order. A chapter's text is read once: the key hashes what is compiled.

    `placement` (source -> target -> Library, build/placement.py) names the helpers a section imports from the
    book's library (installed from `wheel` where missing); the sections it does not name paste every helper."""
    placement, saved = placement or {}, saved or {}
    from pathlib import Path

    from d2lc.build.install import requirements_for
    results: list[ChapterResult] = []
    todo: list[tuple[int, tuple[str, str, str, list[str], Requirements]]] = []  # (result index, compile_source task)
    for file, source, shown, names in tasks:
        result = ChapterResult()
        results.append(result)
        try:
            with open(file, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            result.errors.append(Diagnostic(Loc(shown, 1, 1), f"cannot read file: {exc}"))
            _report(progress, shown)
            continue
        text, bad = decode_chapter(data, shown)  # UTF-8 with the BOM dropped, or an error at the first bad byte
        if bad is not None:
            result.errors.append(bad)
            _report(progress, shown)
            continue
        requirements = requirements_for(Path(file), names)
        libraries, cells = placement.get(source, {}), saved.get(source, ())
        keys = {n: _key(text, source, n, requirements[n], libraries.get(n), wheel, cells) for n in names}
        missing = []
        for name in names:
            hit = cache.get(keys[name]) if cache is not None else None
            used = cache.get(content_key("usage", keys[name])) if cache is not None and hit is not None else None
            if hit is None or used is None:
                missing.append(name)
            else:
                result.outputs[name] = hit
                result.usage[name] = frozenset(used.split())
        result.from_cache = len(result.outputs)
        if missing or not names:
            todo.append((len(results) - 1, (text, source, shown, missing, requirements, libraries, wheel, cells)))
        else:
            _report(progress, shown)
    wanted = {n for _, (_, _, _, names, *_) in todo for n in names}
    if wanted:
        from d2lc.emit.backend import registry
        unknown = sorted(wanted - set(registry()))
        if unknown:
            raise UnknownTargets(unknown)
    if cache is not None:
        activate(cache)
    for (index, (text, source, shown, _, requirements, libraries, _, cells)), (outputs, errors, usage) in zip(
            todo, _run([t for _, t in todo], jobs, progress)):
        result = results[index]
        if errors:
            result.outputs, result.errors, result.from_cache = {}, errors, 0
            continue
        for name, notebook in outputs.items():
            result.outputs[name] = notebook
            result.usage[name] = usage[name]
            if cache is not None:
                key = _key(text, source, name, requirements[name], libraries.get(name), wheel, cells)
                cache.put(key, notebook)
                cache.put(content_key("usage", key), " ".join(sorted(usage[name])))
        order = tasks[index][3]
        result.outputs = {name: result.outputs[name] for name in order}  # the targets' order, whatever came from where
    return results


def _key(text: str, source: str, target: str, requirements: tuple[str, ...], library, wheel, saved=()) -> str:
    """A notebook's cache key: the chapter, target, install requirements, the saved definitions of other sections it
    sees and, when it imports helpers, what from."""
    extra = () if library is None else ("library", library.package, *sorted(library.helpers),
                                         *((wheel.name, wheel.version, wheel.url, wheel.override) if wheel else ()))
    extra += tuple(f"saved\0{file}\0{line}\0{code}" for file, code, line in saved)
    return notebook_key(text, source, target, tuple(requirements) + extra)


def _report(progress: Callable[[str], None] | None, shown: str) -> None:
    if progress:
        progress(shown)


def _run(todo: list[tuple], jobs: int | None,
         progress: Callable[[str], None] | None) -> list[tuple[Outputs, list[Diagnostic], dict[str, frozenset[str]]]]:
    jobs = jobs if jobs is not None else min(len(todo), os.cpu_count() or 1)
    results = []
    if jobs > 1 and len(todo) > 2:
        from concurrent.futures import ProcessPoolExecutor
        _warm_up()  # forked workers inherit the imported compiler and the parser tables
        with ProcessPoolExecutor(max_workers=min(jobs, len(todo))) as pool:
            for task, res in zip(todo, pool.map(compile_source, todo)):
                results.append(res)
                _report(progress, task[2])
        return results
    for task in todo:
        results.append(compile_source(task))
        _report(progress, task[2])
    return results


def compile_source(task: tuple) -> tuple[dict[str, str], list[Diagnostic], dict[str, frozenset[str]]]:
    """One chapter's text (with its book-relative source, shown name, targets and, optionally, each target's
    install requirements, library imports and wheel): (target -> notebook text, diagnostics, target -> helpers)."""
    from d2lc.emit.backend import get_backend, registry
    from d2lc.core.diagnostics import CompileError
    from d2lc.emit.base import EmitError
    from d2lc.build.checked import compile_chapter
    from d2lc.build.notebook import build_notebook_and_usage
    text, source, shown, names = task[:4]
    requirements: Requirements = task[4] if len(task) > 4 else {}
    libraries = task[5] if len(task) > 5 else {}
    wheel = task[6] if len(task) > 6 else None
    saved = task[7] if len(task) > 7 else ()
    known = set(registry()) | {a for b in registry().values() for a in b.aliases}
    try:
        module = compile_chapter(text, source, known, saved)
    except CompileError as exc:
        return {}, [_shown_as(d, source, shown) for d in exc.diagnostics], {}
    outputs, errors, usage = {}, [], {}
    for name in names:
        try:
            outputs[name], usage[name] = build_notebook_and_usage(module, get_backend(name), requirements.get(name, ()),
                                                                  libraries.get(name), wheel)
        except EmitError as exc:
            errors.append(_shown_as(exc.diagnostic, source, shown))
    return (outputs if not errors else {}), errors, usage


def _shown_as(diag: Diagnostic, source: str, shown: str) -> Diagnostic:
    """The diagnostic naming the file as the user spelt it (compiles name it by its book-relative path)."""
    if diag.loc.file != source:
        return diag
    return dataclasses.replace(diag, loc=dataclasses.replace(diag.loc, file=shown))


def _warm_up() -> None:
    from d2lc.build.notebook import build_notebook_and_usage  # noqa: F401 (imported for the forked workers, not called here)
    from d2lc.front.parser import lark_parser
    lark_parser()
