"""Names the generated Python cannot give to a chapter's own variables, and their deterministic renaming.

A chapter may call a variable `lambda` or `np`, a model member `parameters`: written as they are, the first
is a syntax error, the second shadows NumPy's import, the third overrides `torch.nn.Module.parameters`.
After type checking, `rename_reserved` gives each such name a trailing underscore (`lambda_`, `np_`,
`parameters_`; more underscores when the chapter already uses that name too), everywhere the IR
mentions it, so every target and the harness see the same, readable names. docs/dsl.md lists the rules.
"""
from __future__ import annotations

import builtins
import keyword
from dataclasses import dataclass, fields, is_dataclass, replace

from d2lc.core import ir
from d2lc.core.types import FuncType, ModelType

# The name every target's model code uses for the model itself; each backend adds its own (Backend.emitted_names).
EMITTED_NAMES = frozenset({"self"})

@dataclass(frozen=True)
class TargetNames:
    """The names the installed targets' emitted code binds, gathered where backends are known (d2lc.build.checked)."""

    imports: frozenset[str] = frozenset()  # every target's import roots (`torch`, `np`, ...)
    helpers: frozenset[str] = frozenset()  # the helper snippets' files and what they define at top level
    member_imports: frozenset[str] = frozenset()  # import roots of targets whose model members are local names
    members: frozenset[str] = frozenset()  # attributes of the targets' layer base classes (Backend.member_names)
    emitted: frozenset[str] = frozenset()  # names their code binds in functions and models (Backend.emitted_names)


def reserved_names(targets: TargetNames) -> frozenset[str]:
    """Python keywords and built-ins, and every installed target's imports and emitted helpers."""
    python = set(keyword.kwlist) | {n for n in dir(builtins) if not n.startswith("_")}
    return frozenset(python | EMITTED_NAMES | targets.emitted | targets.imports | targets.helpers)


def reserved_member_names(targets: TargetNames) -> frozenset[str]:
    """Names a model member or hyper-parameter cannot have: an attribute of a layer base class, a keyword,
    a name the emitted model code uses, or an import of a target whose members are local names."""
    return frozenset(set(keyword.kwlist) | EMITTED_NAMES | targets.emitted | targets.members | targets.member_imports)


NAME_FIELDS = {ir.Var: ("name",), ir.Assign: ("name",), ir.IndexAssign: ("name",), ir.Param: ("name",),
               ir.FuncDef: ("name",), ir.CallFunc: ("func",), ir.For: ("var", "names"), ir.Unpack: ("names",), ir.Lambda: ("params",), ir.ModelDef: ("name",),
               ir.Member: ("name",), ir.ApplyLayer: ("member",), ir.NewModel: ("model",), ir.PathStep: ("member",)}


def _bound_names(module: ir.Module) -> tuple[set[str], set[str]]:
    """(every name the chapter binds, those bound only as model members or hyper-parameters)."""
    bound: set[str] = set()
    members: set[str] = set()
    for s in ir.walk_stmts(list(module.stmts())):
        if isinstance(s, (ir.Assign, ir.IndexAssign, ir.Unpack, ir.For)):
            bound |= set(ir.bound_names(s))
        elif isinstance(s, ir.FuncDef):
            bound |= {s.name} | {p.name for p in s.params}
        elif isinstance(s, ir.ModelDef):
            inner = {m.name for m in s.members} | {p.name for p in s.hparams}
            members |= inner
            bound |= {s.name} | {p.name for p in s.forward.params}
            bound |= {n for x in ir.walk_stmts(s.forward.body) for n in ir.bound_names(x)}
    return bound | members, members - bound


def renaming(module: ir.Module, targets: TargetNames) -> dict[str, str]:
    """{reserved name the chapter binds: its new name}, e.g. {"lambda": "lambda_"}."""
    bound, members = _bound_names(module)
    reserved, reserved_members = reserved_names(targets), reserved_member_names(targets)
    out: dict[str, str] = {}
    for name in sorted(bound):
        if name in (reserved_members if name in members else reserved):
            new = name + "_"
            while new in bound or new in reserved or new in out.values():
                new += "_"
            out[name] = new
    return out


def rename_reserved(module: ir.Module, targets: TargetNames) -> dict[str, str]:
    """Rename, in place, every reserved name the chapter binds; returns the renaming applied."""
    mapping = renaming(module, targets)
    if not mapping:
        return mapping
    seen: set[int] = set()
    stack: list[object] = [c.stmts for c in module.cells] + [list(module.functions.values())]
    while stack:
        node = stack.pop()
        if isinstance(node, (list, tuple)):
            stack.extend(node)
            continue
        if isinstance(node, dict):
            stack.extend(node.values())
            continue
        if not is_dataclass(node) or isinstance(node, type) or id(node) in seen:
            continue
        seen.add(id(node))
        for attr in NAME_FIELDS.get(type(node), ()):
            value = getattr(node, attr)
            if isinstance(value, list):  # an unpacking's names
                setattr(node, attr, [mapping.get(v, v) for v in value])
            elif value in mapping:
                setattr(node, attr, mapping[value])
        if isinstance(node, ir.NewModel):
            node.kwargs = {mapping.get(k, k): v for k, v in node.kwargs.items()}
        if isinstance(node, ir.Expr) and isinstance(node.type, (FuncType, ModelType)) and node.type.name in mapping:
            node.type = replace(node.type, name=mapping[node.type.name])
        for f in fields(node):
            value = getattr(node, f.name)
            if isinstance(value, (list, tuple, dict)) or (is_dataclass(value) and not isinstance(value, type)):
                stack.append(value)
    module.functions = {mapping.get(k, k): v for k, v in module.functions.items()}
    return mapping
