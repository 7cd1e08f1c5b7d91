"""`d2lc new-target NAME`: write a backend folder from the templates in templates/new_target/.

    NAME/__init__.py   the Backend declaration, or `base.derive(...)` with --inherit (every other field
                       the parent's, shown commented out)
    NAME/ops.py        the op table: `{**base_ops(MODULE)}` (the shared rows) and every other IR op as
                       Unsupported("TODO: ..."); or `{**base.ops}` with --inherit
    NAME/emitter.py    the Emitter subclass (of the parent's emitter with --inherit), its hooks listed
    NAME/snippets/harness_models.py
                       the harness glue of its models (the parent's with --inherit)
    NAME/goldens.md    golden cases checked by `d2lc conformance NAME` (with --inherit, the parent's
                       output as the expected code)
    envs/NAME.txt      the requirements of its environment (.venv-NAME)

and registers the entry point in this repository's pyproject.toml (or prints the line to add). With
--inherit, `d2lc conformance NAME` passes as written: the differences are the author's to add.
The command line is in d2lc/cli/tools.py.
"""
from __future__ import annotations

import dataclasses
import enum
import importlib
import keyword
import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from d2lc.emit.backend import ENTRY_POINT_GROUP, Backend, Layouts, get_backend, registry
from d2lc.emit.base_ops import base_ops

TEMPLATES = Path(__file__).parent.parent / "templates" / "new_target"
REPO_ROOT = Path(__file__).resolve().parents[2]
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
SECTION = f'[project.entry-points."{ENTRY_POINT_GROUP}"]'


GOLDEN_CASES = (  # (name, DSL) of the goldens.md a new backend starts with
    ("arange", "x = arange(12)\nf = arange(12, dtype=float32)"),
    ("reductions", "X = ones((2, 3))\ns = X.sum(axis=1, keepdims=True)"),
    ("gradients", "x = arange(4.0)\ny = 2 * dot(x, x)\nprint(grad(y, x))"),
)
DERIVED = ("name", "display_name", "aliases", "ops", "emitter")  # what the scaffolded derive(...) passes


class ScaffoldError(Exception):
    pass


@dataclass
class Scaffold:
    package: Path  # the backend folder written
    files: list[Path]
    entry_point: str  # `name = "module:backend"`
    registered: bool  # whether it was added to pyproject.toml


def describe(rule) -> str:
    """A rule in a few words, for the comments of an inherited op table."""
    from d2lc.emit import rules as R
    if isinstance(rule, R.DTyped):
        return describe(rule.rule) + " (+dtype=)"
    if isinstance(rule, R.Fn):
        return f"{rule.path}({', '.join(rule.args + tuple(f'{k}=' for k in rule.kw))})"
    if isinstance(rule, R.Method):
        return f"x.{rule.name}({', '.join(rule.args + tuple(f'{k}=' for k in rule.kw))})"
    if isinstance(rule, R.Infix):
        return f"x {rule.op} y"
    if isinstance(rule, R.Prefix):
        return f"{rule.op}x"
    if isinstance(rule, R.Attr):
        return f"x.{rule.name}"
    if isinstance(rule, R.Tmpl):
        return rule.template
    if isinstance(rule, R.Custom):
        return f"a Custom rule ({getattr(rule.fn, '__name__', 'fn')})"
    if isinstance(rule, R.Unsupported):
        return "nothing (unsupported)"
    return type(rule).__name__


def _op_groups(table: dict) -> list[tuple[str, list[dict]]]:
    """Every IR op by category: its rule in `table` (the parent's, or the shared base table), or a TODO."""
    from d2lc.core.ops import SPECS
    from d2lc.emit.base import GENERIC
    from d2lc.emit.rules import Unsupported
    groups: dict[str, list[dict]] = {}
    for name, spec in SPECS.items():
        if name in GENERIC:
            continue  # print, getitem: every Python target spells them the same
        params = [p.name for p in spec.params] + ([f"*{spec.varargs}"] if spec.varargs and spec.varargs not in
                                                   [p.name for p in spec.params] else [])
        signature = f"{name}({', '.join(params)})"
        rule = table.get(name)
        inherited = rule is not None and not isinstance(rule, Unsupported)
        groups.setdefault(spec.category, []).append({
            "name": name, "signature": signature, "doc": spec.doc, "inherited": inherited,
            "rule": describe(rule) if rule is not None else "",
            "todo": repr(f"TODO: {signature}: {spec.doc}"),
        })
    return list(groups.items())


def _show(value, width: int = 72) -> str:
    """A field's value in a few words, for the comments of a derived backend."""
    def show(v) -> str:
        if isinstance(v, enum.Enum):
            return f"{type(v).__name__}.{v.name}"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{show(k)}: {show(x)}" for k, x in v.items()) + "}"
        if isinstance(v, frozenset):
            return "frozenset({" + ", ".join(map(repr, sorted(v))) + "})"
        if callable(v) and not dataclasses.is_dataclass(v):
            return getattr(v, "__qualname__", type(v).__name__)
        return repr(v)
    text = show(value).replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 3] + "..."


def _inherited_fields(base: Backend) -> list[tuple[str, str]]:
    """(field, `base.field  # its value`) for every Backend field the scaffolded derive(...) leaves to the parent."""
    return [(f.name, f"base.{f.name},  # {_show(getattr(base, f.name))}")
            for f in dataclasses.fields(Backend) if f.name not in DERIVED]


def _golden_cases(base: Backend | None) -> list[dict]:
    """The starting goldens: with a parent, what it emits for each case is the expected code."""
    from d2lc.tools.goldens import emit_snippet
    return [{"name": name, "dsl": dsl, "expected": emit_snippet(dsl, base) if base is not None else None}
            for name, dsl in GOLDEN_CASES]


def _harness_glue(base: Backend) -> str:
    """The parent's snippets/harness_models.py, found as the harness finds it (beside its emitter's package)."""
    package = importlib.import_module(base.emitter.__module__.rsplit(".", 1)[0])
    return (Path(package.__file__).parent / "snippets" / "harness_models.py").read_text(encoding="utf-8")


def _base_info(name: str) -> dict:
    """Where the base backend is importable from: its entry point's module and attribute."""
    backend = get_backend(name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == backend.name:
            module, _, attr = ep.value.partition(":")
            return {"name": backend.name, "module": module, "attr": attr or "backend", "backend": backend,
                    "environment": backend.environment.name}
    raise ScaffoldError(f"cannot find the entry point of backend '{name}'")


def _dotted_package(folder: Path) -> str | None:
    """The import path of `folder` when it sits in a package chain (folders with __init__.py)."""
    parts = [folder.name]
    parent = folder.parent
    while (parent / "__init__.py").exists():
        parts.insert(0, parent.name)
        parent = parent.parent
    return ".".join(parts) if len(parts) > 1 else None


def scaffold(name: str, directory: Path, inherit: str | None = None, display_name: str | None = None,
             module: str | None = None, envs_dir: Path | None = None, force: bool = False,
             register: bool = True) -> Scaffold:
    """Write the backend folder `directory/name` (and envs/NAME.txt); returns what was written."""
    import jinja2
    if not NAME_RE.match(name) or keyword.iskeyword(name):
        raise ScaffoldError(f"'{name}' is not a valid target name (lowercase letters, digits and _, starting with a letter)")
    if name in registry() and not force:
        raise ScaffoldError(f"a target named '{name}' is already installed (use --force to write the skeleton anyway)")
    package = directory / name
    if package.exists() and any(package.iterdir()) and not force:
        raise ScaffoldError(f"{package} already exists (use --force to overwrite)")
    base = _base_info(inherit) if inherit else None
    module = module or name
    display = display_name or name.replace("_", " ").title().replace(" ", "")
    layouts = base["backend"].layouts if base else Layouts()
    parent = base["backend"] if base else None
    context = {
        "name": name, "display": display, "module": module, "cls": "".join(p.title() for p in name.split("_")),
        "base": base, "groups": _op_groups(parent.ops if parent else base_ops(module)), "layouts": layouts, "cases": _golden_cases(parent),
        "inherited_fields": _inherited_fields(parent) if parent else [],
        "base_glue": _harness_glue(parent) if parent else "",
    }
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined)
    envs_dir = envs_dir if envs_dir is not None else directory.parent / "envs"
    outputs = {
        package / "__init__.py": "__init__.py.j2",
        package / "ops.py": "ops.py.j2",
        package / "emitter.py": "emitter.py.j2",
        **({package / "models.py": "models.py.j2"} if base else {}),
        package / "snippets" / "harness_models.py": "snippets/harness_models.py.j2",
        package / "goldens.md": "goldens.md.j2",
        envs_dir / f"{name}.txt": "requirements.txt.j2",
    }
    written = []
    for path, template in outputs.items():
        if path.suffix == ".txt" and path.exists() and not force:
            continue  # an existing requirements file is the author's
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(env.get_template(template).render(**context), encoding="utf-8")
        written.append(path)
    in_repo = directory.resolve() == (REPO_ROOT / "targets").resolve() and (REPO_ROOT / "pyproject.toml").exists()
    target_module = f"d2lc_targets.{name}" if in_repo else (_dotted_package(package) or name)
    line = f'{name} = "{target_module}:backend"'
    registered = False
    if in_repo and register:
        registered = add_entry_point(REPO_ROOT / "pyproject.toml", name, line)
    return Scaffold(package, written, line, registered)


def add_entry_point(pyproject: Path, name: str, line: str) -> bool:
    """Add `line` to the d2lc.targets entry points of a pyproject.toml; False if `name` is there already."""
    lines = pyproject.read_text(encoding="utf-8").splitlines()
    try:
        start = lines.index(SECTION)
    except ValueError:
        lines += ["", SECTION, line]
    else:
        end = start + 1
        while end < len(lines) and lines[end].strip() and not lines[end].startswith("["):
            if lines[end].split("=")[0].strip() == name:
                return False
            end += 1
        lines.insert(end, line)
    pyproject.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return True
