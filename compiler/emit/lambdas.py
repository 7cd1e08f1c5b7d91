"""Lambdas the emitters write around a chapter's expressions, with parameter names those expressions do not read.

`lambda x: nn.max_pool(x, ..., padding=((x, x),) * 2)` would read the lambda's own `x` where the chapter
meant its variable `x` (issue 15). `capture_free_lambda` keeps the usual name (`x`, `params`, `shape`)
unless the body reads a name of that spelling, and then numbers it (`x2`).
"""
from __future__ import annotations

from typing import Callable, Sequence

import libcst as cst


def free_names(node: cst.CSTNode) -> set[str]:
    """Every name an expression reads: not the attribute after a dot, not an argument's keyword."""
    out: set[str] = set()
    stack: list[cst.CSTNode] = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            out.add(n.value)
        elif isinstance(n, cst.Attribute):
            stack.append(n.value)
        elif isinstance(n, cst.Arg):
            stack.append(n.value)
        else:
            stack.extend(n.children)
    return out


def capture_free_lambda(bases: Sequence[str], make: Callable[..., cst.BaseExpression],
                        defaults: dict[str, cst.BaseExpression] | None = None) -> cst.Lambda:
    """`lambda <bases>: make(<names>)`, each parameter named its base unless the body reads that name.

    `make` receives one `cst.Name` per parameter and must be free of side effects (it is called twice);
    `defaults` maps a base to its parameter's default value.
    """
    placeholders = [cst.Name(f"__d2lc_param{i}") for i in range(len(bases))]
    taken = free_names(make(*placeholders)) - {p.value for p in placeholders}
    names: list[str] = []
    for base in bases:
        name, i = base, 1
        while name in taken or name in names:
            i += 1
            name = f"{base}{i}"
        names.append(name)
    defaults = defaults or {}
    params = [cst.Param(cst.Name(n), default=defaults.get(b)) for b, n in zip(bases, names)]
    return cst.Lambda(cst.Parameters(params), make(*[cst.Name(n) for n in names]))
