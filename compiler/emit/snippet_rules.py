"""An op emitted as a call of a helper snippet (targets/<fw>/snippets/NAME.py), defined once per notebook."""
from __future__ import annotations

from pathlib import Path

import libcst as cst

from d2lc.emit.rules import Custom, _present


def snippet_call(snippets: Path, name: str, *params: str) -> Custom:
    """`NAME(param, ...)`, after the snippet NAME.py defining it; a param left at its default is left out."""
    def emit(em, node) -> cst.BaseExpression:
        em.helper(name, (snippets / f"{name}.py").read_text(encoding="utf-8"))
        args = [cst.Arg(em.arg(node, p)) for p in params if _present(node, p)]
        return cst.Call(cst.Name(name), args)
    return Custom(emit)
