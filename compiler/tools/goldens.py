"""Golden cases: a DSL snippet and the exact code (or error) a target must give for it.

One format for every golden file, Markdown read without running anything: each `## name` section holds
a ```d2l block, then any of
    ```python TARGET   the exact code TARGET emits (the import cell left out)
    ```python          the same, for the backend whose own goldens.md this is
    ```error           a substring of the error compiling it must give
A case with neither only has to compile. The shared cases are tests/goldens.md; each backend keeps its
own in `goldens.md` next to its op table.
"""
from __future__ import annotations

import importlib
import textwrap
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from d2lc.emit.backend import ENTRY_POINT_GROUP, Backend, registry

SHARED_GOLDENS = "tests/goldens.md"


@dataclass
class GoldenCase:
    name: str
    dsl: str
    expected: str | None = None  # an untagged ```python block: the code of the file's own backend
    error: str | None = None  # or: a substring of the error compiling it must give
    origin: str = ""  # file:line, for messages
    by_target: dict[str, str] = field(default_factory=dict)  # ```python TARGET blocks

    def expected_for(self, target: str) -> str | None:
        """The exact code `target` must emit, or None when the case only has to compile for it."""
        return self.by_target.get(target, self.expected)


def chapter_text(dsl: str) -> str:
    """A one-cell chapter around a DSL snippet."""
    return "# Test\n\n```d2l\n" + textwrap.dedent(dsl).strip("\n") + "\n```\n"


def known_targets() -> set[str]:
    return set(registry()) | {a for b in registry().values() for a in b.aliases}


def emit_snippet(dsl: str, backend: Backend) -> str:
    """The code `backend` emits for one DSL cell, without the import/setup cell. Raises CompileError/EmitError."""
    from d2lc.build.notebook import emit_cells
    from d2lc.build.checked import compile_chapter
    module = compile_chapter(chapter_text(dsl), "snippet.md", known_targets())
    cells = [src for kind, src, seed in emit_cells(module, backend) if kind == "code" and seed != "<setup>"]
    return "\n\n".join(cells)


def compile_error(dsl: str, backend: Backend) -> str | None:
    """None when the snippet compiles for `backend`, else the first error message."""
    from d2lc.core.diagnostics import CompileError
    from d2lc.emit.base import EmitError
    try:
        emit_snippet(dsl, backend)
    except CompileError as exc:
        return exc.diagnostics[0].message if exc.diagnostics else str(exc)
    except EmitError as exc:
        return exc.diagnostic.message
    return None


def read_goldens(path: Path, shown: str | None = None) -> list[GoldenCase]:
    """The cases of a golden file (the format is in this module's docstring), in order."""
    cases: list[GoldenCase] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    name, start, i = None, 0, 0
    blocks: dict[str, str] = {}

    def flush() -> None:
        if name is not None and "d2l" in blocks:
            tagged = {k.split()[1]: v for k, v in blocks.items() if k.startswith("python ")}
            cases.append(GoldenCase(name, blocks["d2l"], blocks.get("python"), blocks.get("error"),
                                    f"{shown or path}:{start}", tagged))

    while i < len(lines):
        line = lines[i]
        info = line[3:].split() if line.startswith("```") else []
        if line.startswith("## "):
            flush()
            name, start, blocks = line[3:].strip(), i + 1, {}
        elif info and name is not None and (info in (["d2l"], ["python"], ["error"])
                                            or (len(info) == 2 and info[0] == "python")):
            lang, body = " ".join(info), []
            i += 1
            while i < len(lines) and lines[i].rstrip() != "```":
                body.append(lines[i])
                i += 1
            blocks.setdefault(lang, "\n".join(body).strip("\n"))
        i += 1
    flush()
    return cases


def backend_dir(name: str) -> Path | None:
    """The folder of the module that registered backend `name` (where its goldens.md lives)."""
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name != name:
            continue
        try:
            module = importlib.import_module(ep.module)
        except Exception:
            return None
        file = getattr(module, "__file__", None)
        return Path(file).parent if file else None
    return None


def d2l_blocks(path: Path) -> list[tuple[int, str]]:
    """(line, code) of every ```d2l block (tags allowed: ```d2l parameters) of a Markdown file."""
    out, lines, i = [], path.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        if lines[i].strip().split()[:1] == ["```d2l"]:
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            out.append((start + 1, "\n".join(body)))
        i += 1
    return out
