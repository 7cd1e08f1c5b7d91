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
from d2lc.emit.library import Library

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
    library: Library | None = None  # helpers an earlier section introduced: imported from the book's library

    def use_library(self, library: Library | None) -> None:
        """Import the helpers `library` names from its module instead of pasting them (see `helper`)."""
        self.library = library
        self.imported: dict[str, str] = {}  # helper -> its source, in the order the notebook first needs them

    def cell_code(self, stmts: list[ir.Stmt]) -> str:
        last = stmts[-1].comments if stmts else None
        return render(self.sequence(stmts), last.after if last is not None else ())

    def helper(self, name: str, code: str) -> None:
        """Emit a helper definition (a snippet's source) once per notebook, before the outermost statement being
        emitted (a figure drawn in a loop gets the helper before the loop, not in its body)."""
        if name in self.helpers_emitted:
            return
        self.helpers_emitted.add(name)
        if self.library is not None and name in self.library.helpers:
            self.imported[name] = code  # the setup cell imports what the notebook's code calls of it
            return
        for stem, shared in shared_snippets():  # framework-neutral helpers a snippet calls come first
            if stem != name and re.search(rf"(?<![\w.]){stem}\(", code):  # a call of it, not `plt.plot(`
                self.helper(stem, shared)
        (self.helper_defs if self.current_stmt is not None else self.pre).extend(parse_snippet(code))

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
            # a dotted key (`time.time`) is needed where the code calls it: a chapter's own name `time` is no module
            needed = re.search(rf"(?<![\w.]){re.escape(root)}\(", code) if "." in root else root in used
            if needed and line not in lines:
                lines.append(line)
        return lines

    def library_import(self, code: str) -> list[str]:
        """`from d2lbook.torch import fashion_mnist, train`: the imported helpers' names that `code` uses."""
        saved = getattr(self, "imported_saved", set())
        if self.library is None or not (self.imported or saved):
            return []
        used = _root_names(code)
        names = sorted(({n for src in self.imported.values() for n in defined_names(src)} | saved) & used)
        module = f"{self.library.package}.{self.backend.environment.packages[0]}"
        return [f"from {module} import {', '.join(names)}"] if names else []

    def setup_code(self, code: str) -> str:
        lines = self.imports_for(code + "\n" + "\n".join(self.prelude())) + self.library_import(code)
        prelude = self.prelude()
        text = "\n".join(lines) + ("\n\n" + "\n".join(prelude) if prelude else "")
        # libcst gives back a parsed statement's text exactly, so the lines go to the formatter as they are
        return format_code("".join(line + "\n" for line in text.splitlines() if line.strip())) if text.strip() else ""


@lru_cache(maxsize=256)
def defined_names(code: str) -> tuple[str, ...]:
    """The functions, classes and variables a helper snippet defines at its top level."""
    import ast
    out: list[str] = []
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.append(node.name)
        elif isinstance(node, ast.Assign):
            out.extend(t.id for t in node.targets if isinstance(t, ast.Name))
    return tuple(out)


def _root_names(code: str) -> set[str]:
    return set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)\s*[.(]", code)) | set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)\b", code))
