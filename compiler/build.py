"""The compile driver: chapters -> notebooks on disk, all or nothing, via temp files and renames."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .backend import Backend
from .diagnostics import CompileError, Diagnostic
from .emit.base import EmitError
from .frontend import compile_chapter
from .notebook import build_notebook
from .outputs import write_all


@dataclass
class BuildResult:
    outputs: dict[Path, str] = field(default_factory=dict)  # path -> notebook text, not yet written
    errors: dict[str, list[Diagnostic]] = field(default_factory=dict)  # file -> its diagnostics


def find_chapters(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(chapter file, path relative to the book root) for every .md under the given paths, sorted."""
    found: list[tuple[Path, Path]] = []
    for p in paths:
        if p.is_dir():
            for f in chapter_files_under(p):
                found.append((f, f.relative_to(p)))
        else:
            root = next((a for a in p.resolve().parents if a.name == "sources"), p.resolve().parent)
            found.append((p, p.resolve().relative_to(root)))
    return found


def chapter_files_under(folder: Path) -> list[Path]:
    """Every .md file under `folder`, sorted; linked folders are followed (each real folder once, so no loop)."""
    found: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for here, dirs, files in os.walk(folder, followlinks=True):
        st = os.stat(here)
        if (st.st_dev, st.st_ino) in seen:
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirs.sort()
        found.extend(Path(here) / f for f in files if f.endswith(".md") and os.path.isfile(os.path.join(here, f)))
    return sorted(found)


def build(paths: list[Path], backends: list[Backend], out_dir: Path, display_root: Path | None = None,
          jobs: int | None = None) -> BuildResult:
    """Compile every chapter for every backend in memory (chapters in parallel processes); nothing is written here."""
    chapters = find_chapters(paths)
    names = [b.name for b in backends]
    tasks = [(str(chapter), str(rel), _display(chapter, display_root), names) for chapter, rel in chapters]
    jobs = jobs if jobs is not None else min(len(tasks), os.cpu_count() or 1)
    if jobs > 1 and len(tasks) > 2:
        from concurrent.futures import ProcessPoolExecutor
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_compile_one, tasks))
    else:
        results = [_compile_one(t) for t in tasks]
    result = BuildResult()
    for (chapter, rel, shown, _), (outputs, errors) in zip(tasks, results):
        if errors:
            result.errors[shown] = errors
        for target, text in outputs.items():
            result.outputs[out_dir / target / Path(rel).with_suffix(".ipynb")] = text
    return result


def _compile_one(task: tuple[str, str, str, list[str]]) -> tuple[dict[str, str], list[Diagnostic]]:
    """One chapter for the named backends: (target -> notebook text, diagnostics)."""
    from .backend import get_backend, registry
    chapter, _, shown, names = task
    try:
        text = Path(chapter).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        from .diagnostics import Loc
        return {}, [Diagnostic(Loc(shown, 1, 1), f"cannot read file: {exc}")]
    known = set(registry()) | {a for b in registry().values() for a in b.aliases}
    try:
        module = compile_chapter(text, shown, known)
    except CompileError as exc:
        return {}, exc.diagnostics
    outputs, errors = {}, []
    for name in names:
        try:
            outputs[name] = build_notebook(module, get_backend(name))
        except EmitError as exc:
            errors.append(exc.diagnostic)
    return (outputs if not errors else {}), errors


def _display(path: Path, root: Path | None) -> str:
    try:
        return str(path.resolve().relative_to((root or Path.cwd()).resolve()))
    except ValueError:
        return str(path)


def write_outputs(outputs: dict[Path, str], out_dir: Path) -> list[Path]:
    """Write every output under `out_dir` all or nothing (see `outputs.write_all`); returns the files that changed."""
    return write_all(outputs, out_dir)
