"""Small helpers shared by the tests."""
from __future__ import annotations

import textwrap

from d2lc.emit.backend import get_backend
from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import emit_cells

TARGETS = ("pytorch", "tensorflow", "jax", "mxnet")


def chapter(dsl: str) -> str:
    return "# Test\n\n```d2l\n" + textwrap.dedent(dsl).strip("\n") + "\n```\n"


def emit(dsl: str, target: str) -> str:
    """The code a target emits for one DSL cell (without the import/setup cell)."""
    module = compile_chapter(chapter(dsl), "test.md", set(TARGETS))
    cells = [src for kind, src, seed in emit_cells(module, get_backend(target)) if kind == "code" and seed != "<setup>"]
    return "\n\n".join(cells)


def available_backends(names: list[str]) -> list:
    """The named backends whose environment and framework are installed here."""
    from d2lc.build.envs import framework_available, python_for
    out = []
    for n in names:
        b = get_backend(n)
        python = python_for(b)
        if python is not None and framework_available(str(python), b.environment.packages):
            out.append(b)
    return out
