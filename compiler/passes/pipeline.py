"""The checked IR of a chapter: the front end's lowering, then the analysis passes and reserved-name renaming."""
from __future__ import annotations

import re

from d2lc.core.diagnostics import CompileError, Diagnostic, DiagnosticBag, Loc
from d2lc.core.ir import Module
from d2lc.front.read import lower_chapter
from d2lc.passes.analysis import run_passes
from d2lc.passes.names import TargetNames, rename_reserved


def compile_chapter(text: str, path: str, known_targets: set[str], *, target_names: TargetNames,
                    saved: tuple[tuple[str, str, int], ...] = ()) -> Module:
    """Parse and type-check a chapter; raises CompileError with every diagnostic found.

    `target_names` are the names the targets' code binds (reserved for it); callers that know the installed
    backends get them from d2lc.build.checked, which also wraps this function."""
    bag = DiagnosticBag()
    surrogate = _lone_surrogate(text, path)
    if surrogate is not None:  # not from a file (decoding rejects it), but from a caller's string
        raise CompileError([surrogate])
    module = lower_chapter(text, path, known_targets, bag, saved)
    if not bag:
        run_passes(module, bag)
    bag.raise_if_any()
    module.renamed = rename_reserved(module, target_names)
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
