"""The package layout is the pipeline: imports point down it, never around a circle.

Reads every `import` (module-level and function-local) of `compiler/` (the `d2lc` package) and
`targets/` (`d2lc_targets`) with `ast`, without importing anything, and checks the rules of
docs/architecture.md:
- a stage imports only itself and the stages before it
  (core < front < passes < emit < build < harness < tools < cli; backends sit beside emit);
- nothing outside the front end imports the lowering;
- a backend imports no other backend, except its package importing the parent it `derive`s from;
- nothing imports the command line;
- the module graph has no cycles;
- no source file is over 500 lines unless its docstring says why ("Over 500 lines:").
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"d2lc": ROOT / "compiler", "d2lc_targets": ROOT / "targets"}
STAGES = ["core", "front", "passes", "emit", "build", "harness", "tools", "cli"]
RANK = {name: i for i, name in enumerate(STAGES)}
TARGETS_RANK = RANK["emit"]  # a backend is emit-stage data: it may read core, passes and emit
LOWERING = tuple(f"d2lc.front.{name}" for name in ("lower", "lower_base", "lower_calls", "lower_exprs", "lower_index",
                                                   "lower_funcs", "lower_lists", "lower_loops", "lower_models", "lower_optim", "lower_params",
                                                   "lower_param_writes", "lower_plots", "lower_pylists", "lower_reads", "lower_files", "lower_tables", "lower_stmts", "lower_text"))
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for top, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder)
            if "snippets" in rel.parts or "templates" in rel.parts:
                continue  # emitted code and templates, not part of the package's import graph
            parts = [top, *rel.with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The longest known module that `name` (a module or module.attribute) names."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in MODULES:
            return candidate
    return None


def _imports(module: str, path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [f"{stem}.{a.name}" for a in node.names] + [stem]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                out.add(target)
    return out


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _derives(module: str, dep: str) -> bool:
    """A backend package that imports its parent backend (the package, not its modules) to `derive` from it."""
    return (MODULES[module].name == "__init__.py" and dep.count(".") == 1
            and ".derive(" in MODULES[module].read_text(encoding="utf-8"))


def _stage(module: str) -> tuple[str, int] | None:
    parts = module.split(".")
    if parts[0] == "d2lc_targets":
        return ("targets", TARGETS_RANK)
    if len(parts) > 1 and parts[1] in RANK:
        return (parts[1], RANK[parts[1]])
    return None


def _violations() -> list[str]:
    out = []
    for module, deps in sorted(GRAPH.items()):
        mine = _stage(module)
        for dep in sorted(deps):
            theirs = _stage(dep)
            backend_reads_emit = mine and mine[0] == "targets" and theirs and theirs[0] == "emit"
            if mine and theirs and theirs[0] != mine[0] and theirs[1] >= mine[1] and not backend_reads_emit:
                out.append(f"{module} -> {dep}: {mine[0]} may not import {theirs[0]}")
            if dep in LOWERING and not module.startswith("d2lc.front"):
                out.append(f"{module} -> {dep}: only the front end imports the lowering")
            if module.startswith("d2lc_targets.") and dep.startswith("d2lc_targets."):
                if module.split(".")[1] != dep.split(".")[1] and not _derives(module, dep):
                    out.append(f"{module} -> {dep}: a backend imports no other backend (Backend.derive)")
            if dep.startswith("d2lc.cli") and not module.startswith("d2lc.cli"):
                out.append(f"{module} -> {dep}: nothing imports the command line")
    return out


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in GRAPH.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return comps


def test_the_graph_is_read():
    """The reader sees real edges (a broken reader would make every rule below pass)."""
    assert "d2lc.core.ir" in GRAPH["d2lc.passes.analysis"]
    assert len(GRAPH) > 60 and sum(map(len, GRAPH.values())) > 150


def test_the_lowering_rule_names_every_lowering_module():
    """A new `front/lower_*.py` module is covered by "nothing outside the front end imports the lowering"."""
    assert sorted(m for m in MODULES if m.startswith("d2lc.front.lower")) == sorted(LOWERING)


def test_imports_point_down_the_pipeline():
    assert _violations() == []


def test_no_import_cycles():
    assert _cycles() == []


def test_the_checks_catch_a_planted_violation(monkeypatch):
    planted = dict(GRAPH)
    planted["d2lc.core.ir"] = GRAPH["d2lc.core.ir"] | {"d2lc.emit.base"}
    planted["d2lc.emit.base"] = GRAPH["d2lc.emit.base"] | {"d2lc.core.ir"}
    planted["d2lc_targets.jax.models"] = GRAPH["d2lc_targets.jax.models"] | {"d2lc_targets.pytorch.models"}
    planted["d2lc.passes.analysis"] = GRAPH["d2lc.passes.analysis"] | {"d2lc.front.lower_base"}
    monkeypatch.setitem(globals(), "GRAPH", planted)
    found = _violations()
    assert any("d2lc.core.ir -> d2lc.emit.base" in v for v in found)
    assert any("d2lc_targets.jax.models -> d2lc_targets.pytorch.models" in v for v in found)
    assert "d2lc.passes.analysis -> d2lc.front.lower_base: only the front end imports the lowering" in found
    assert any({"d2lc.core.ir", "d2lc.emit.base"} <= set(c) for c in _cycles())


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_are_small_or_say_why(module):
    path = MODULES[module]
    lines = path.read_text(encoding="utf-8").count("\n")
    if lines > MAX_LINES:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        assert "Over 500 lines:" in doc, f"{path.relative_to(ROOT)} has {lines} lines and no reason in its docstring"
