"""The prose roles {op}`name` and {layer}`Kind`: each names an op or a layer that every target's notebook spells in
its own way (emit/prose.py); here a name the book does not know is an error at its place in the chapter."""
from __future__ import annotations

import re

from d2lc.core.diagnostics import Diagnostic, Loc, did_you_mean
from d2lc.core.layers import LAYERS
from d2lc.core.ops import SPECS

ROLE_RE = re.compile(r"\{(op|layer)\}`([^`\n]*)`")


def check_roles(text: str, file: str, first_line: int) -> list[Diagnostic]:
    """A diagnostic for each role in a Markdown cell (whose first line is `first_line`) naming no op or layer."""
    out: list[Diagnostic] = []
    for n, line in enumerate(text.splitlines()):
        for m in ROLE_RE.finditer(line):
            role, name = m.group(1), m.group(2)
            known = SPECS if role == "op" else LAYERS
            if name in known:
                continue
            col = m.start(2) + 1
            what = "an op" if role == "op" else "a layer"
            out.append(Diagnostic(Loc(file, first_line + n, col, col + max(1, len(name))),
                                  f"unknown {'op' if role == 'op' else 'layer'} `{name}` in {{{role}}}",
                                  expected=f"{what} of the book, e.g. {{{role}}}`{'matmul' if role == 'op' else 'Conv2d'}`",
                                  hint=did_you_mean(name, list(known)) or
                                  (f"write {{layer}}`{name}` for a layer" if role == "op" and name in LAYERS else
                                   f"write {{op}}`{name}` for an op" if role == "layer" and name in SPECS else
                                   "docs/dsl.md lists the ops and layers")))
    return out
