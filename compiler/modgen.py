"""Plain Python modules (not notebooks) of a chapter's functions, for the equivalence harness."""
from __future__ import annotations

from typing import Collection

from . import ir
from .backend import Backend
from .emit.fmt import render


def testable_functions(module: ir.Module) -> list[ir.FuncDef]:
    """Top-level functions whose every parameter has a declared tensor or scalar type."""
    from .types import AnyType
    out = []
    for s in module.stmts():
        if isinstance(s, ir.FuncDef) and s.params and not any(isinstance(p.type, AnyType) for p in s.params):
            out.append(s)
    return out


def function_module_source(module: ir.Module, backend: Backend, only: Collection[str] | None = None) -> str:
    """Imports, prelude, and every top-level `def` of the module (or just those named in `only`), emitted for `backend`."""
    em = backend.emitter(backend, module)
    defs = [s for s in module.stmts() if isinstance(s, ir.FuncDef) and (only is None or s.name in only)]
    body = []
    for d in defs:
        body.extend(em.stmt(d))
    code = render(body)
    setup = em.setup_code(code)
    return (setup + "\n\n\n" if setup else "") + code + "\n"
