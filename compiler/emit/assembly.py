"""Cell and notebook assembly: a cell's code, the import lines a notebook's code needs, the prelude,
and helper snippets emitted once per notebook before the statement that first needs them."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import libcst as cst

from d2lc.core import ir
from d2lc.emit.fmt import format_code, parse_snippet, render

if TYPE_CHECKING:
    from d2lc.emit.backend import Backend

SHARED_SNIPPETS = Path(__file__).parent / "snippets"  # helpers every target emits the same way (plot_history)


@lru_cache(maxsize=1)
def shared_snippets() -> tuple[tuple[str, str], ...]:
    """(name, source) of every shared helper snippet, read once per process."""
    return tuple((p.stem, p.read_text(encoding="utf-8")) for p in sorted(SHARED_SNIPPETS.glob("*.py")))


class Assembly:
    """Turns statements into a cell's text, and a notebook's code into its setup cell."""

    backend: "Backend"
    pre: list[cst.BaseStatement]
    helpers_emitted: set[str]

    def cell_code(self, stmts: list[ir.Stmt]) -> str:
        last = stmts[-1].comments if stmts else None
        return render(self.sequence(stmts), last.after if last is not None else ())

    def helper(self, name: str, code: str) -> None:
        """Emit a helper definition (a snippet's source) once per notebook, before the current statement."""
        if name in self.helpers_emitted:
            return
        self.helpers_emitted.add(name)
        for stem, shared in shared_snippets():  # framework-neutral helpers a snippet calls come first
            if stem != name and re.search(rf"(?<![\w.]){stem}\(", code):  # a call of it, not `plt.plot(`
                self.helper(stem, shared)
        self.pre.extend(parse_snippet(code))

    def shared_helper(self, name: str) -> None:
        """Emit the framework-neutral helper `name` (compiler/emit/snippets/NAME.py) once per notebook."""
        self.helper(name, dict(shared_snippets())[name])

    def prelude(self) -> list[str]:
        """Statements after the imports, e.g. `npx.set_np()`."""
        return []

    def imports_for(self, code: str) -> list[str]:
        """The import lines the given code needs, in the backend's declared order."""
        used = _root_names(code)
        lines: list[str] = []
        for root, line in self.backend.imports.items():
            if root in used and line not in lines:
                lines.append(line)
        return lines

    def setup_code(self, code: str) -> str:
        lines = self.imports_for(code + "\n" + "\n".join(self.prelude()))
        prelude = self.prelude()
        text = "\n".join(lines) + ("\n\n" + "\n".join(prelude) if prelude else "")
        # libcst gives back a parsed statement's text exactly, so the lines go to the formatter as they are
        return format_code("".join(line + "\n" for line in text.splitlines() if line.strip())) if text.strip() else ""


def _root_names(code: str) -> set[str]:
    return set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)\s*[.(]", code)) | set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)\b", code))
