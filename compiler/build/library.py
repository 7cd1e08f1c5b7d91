"""The book's helper library: one importable module per target (`from d2lbook import torch as d2l`) holding the
built-in helper snippets (data hub, data loaders, `train`, plotting), its `pyproject.toml`, and a wheel.

Everything is written deterministically: the same snippets give the same bytes (the wheel's entries carry a fixed
date), so a rebuild with nothing changed rewrites nothing.
"""
from __future__ import annotations

import base64
import hashlib
import io
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from d2lc.build.book import Book
from d2lc.emit.assembly import Assembly, shared_snippets
from d2lc.emit.backend import Backend
from d2lc.emit.fmt import format_code

HARNESS_ONLY = {"harness_models"}  # snippets the equivalence harness runs, never a reader
WHEEL_DATE = (2020, 1, 1, 0, 0, 0)  # every wheel entry's timestamp: the wheel's bytes depend on its content only


def module_name(backend: Backend) -> str:
    """The module a target's helpers live in: its framework's import name (`torch`, `tensorflow`, `jax`, ...)."""
    return backend.environment.packages[0]


def target_snippets(backend: Backend) -> list[tuple[str, str]]:
    """(name, source) of a target's own helper snippets, sorted by name, harness glue left out."""
    package = Path(sys.modules[backend.emitter.__module__].__file__).parent  # targets/<name>/, beside its emitter
    return [(p.stem, p.read_text(encoding="utf-8")) for p in sorted((package / "snippets").glob("*.py"))
            if p.stem not in HARNESS_ONLY]


class _Imports(Assembly):
    """The backend's import table, read the way a notebook's setup cell reads it."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend


def _prelude(backend: Backend) -> list[str]:
    """The statements after a notebook's imports (MXNet's `npx.set_np()`), for code that uses no optional feature."""
    stub = SimpleNamespace(x64=False, module=SimpleNamespace(features=frozenset()))
    return list(backend.emitter.prelude(stub))


class LibraryError(Exception):
    """The book's `@save` markers are misused (a name saved twice, a saved definition reading chapter values)."""

    def __init__(self, diagnostics: list):
        super().__init__(f"{len(diagnostics)} error(s) in the book's saved definitions")
        self.diagnostics = diagnostics


def module_source(book: Book, backend: Backend, saved_defs: list | None = None) -> str:
    """The text of `<name>/<module>.py`: docstring, the imports its helpers use, prelude, the built-in helpers,
    then the book's `@save` definitions in reading order (`saved_defs`, found in the book when not given)."""
    from d2lc.build.saved import saved_code, saved_definitions
    saved = saved_code(saved_defs if saved_defs is not None else saved_definitions(book)[0], backend)
    helpers = [*shared_snippets(), *target_snippets(backend), *saved]
    body = "\n\n".join(code.strip("\n") for _, code in helpers)
    prelude = _prelude(backend)
    imports = _Imports(backend).imports_for(body + "\n" + "\n".join(prelude))
    names = textwrap.fill("Helpers: " + ", ".join(f"`{n}`" for n, _ in helpers) + ".", 100)
    doc = (f'"""{book.library.name} for {backend.display_name}: the helpers the book\'s {backend.display_name} '
           f"notebooks use.\n\nImport it as `from {book.library.name} import {module_name(backend)} as d2l`.\n"
           f'{names}\n"""')
    parts = [doc, "\n".join(imports)] + (["\n".join(prelude)] if prelude else []) + [body]
    return format_code("\n\n".join(parts) + "\n") + "\n"


def pyproject(book: Book, backends: list[Backend]) -> str:
    """A setuptools pyproject.toml for the package (what `pip wheel` builds from), without framework pins."""
    return (f'[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n\n'
            f'[project]\nname = "{book.library.name}"\nversion = "{book.library.version}"\n'
            f'description = "The helper library of {book.title}: {", ".join(b.display_name for b in backends)}"\n'
            f'requires-python = ">=3.9"\ndependencies = ["numpy", "matplotlib"]\n\n'
            f'[tool.setuptools]\npackages = ["{book.library.name}"]\n')


@dataclass(frozen=True)
class Library:
    files: dict[str, str]  # path relative to the output folder -> text
    wheel_name: str
    wheel: bytes


def build_library(book: Book, backends: list[Backend]) -> Library:
    """The package's files and its wheel, in memory; LibraryError when the book's `@save` markers are misused."""
    from d2lc.build.saved import saved_definitions
    saved, errors = saved_definitions(book)
    if errors:
        raise LibraryError(errors)
    name = book.library.name
    files = {f"{name}/__init__.py": f'"""{book.title}: helpers, one module per framework '
                                    f'(`from {name} import {module_name(backends[0]) if backends else "torch"} as d2l`)."""\n\n'
                                    f'__version__ = "{book.library.version}"\n'}
    for backend in backends:
        files[f"{name}/{module_name(backend)}.py"] = module_source(book, backend, saved)
    files["pyproject.toml"] = pyproject(book, backends)
    return Library(files, book.library.wheel, _wheel(book, {k: v for k, v in files.items() if k.startswith(f"{name}/")}))


def _wheel(book: Book, modules: dict[str, str]) -> bytes:
    """A pure-Python wheel (PEP 427) of the modules: METADATA, WHEEL and RECORD, entries sorted and dated alike."""
    dist = f"{book.library.name.replace('-', '_')}-{book.library.version}.dist-info"
    entries = dict(sorted(modules.items()))
    entries[f"{dist}/METADATA"] = (f"Metadata-Version: 2.1\nName: {book.library.name}\nVersion: {book.library.version}\n"
                                   f"Summary: The helper library of {book.title}\nRequires-Dist: numpy\n"
                                   "Requires-Dist: matplotlib\n")
    entries[f"{dist}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: d2lc\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = []
    for path, text in entries.items():
        data = text.encode("utf-8")
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    entries[f"{dist}/RECORD"] = "\n".join(record + [f"{dist}/RECORD,,"]) + "\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, text in entries.items():
            info = zipfile.ZipInfo(path, WHEEL_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, text.encode("utf-8"))
    return buf.getvalue()


def write_library(book: Book, backends: list[Backend], out: Path) -> list[Path]:
    """Write the package, pyproject.toml and wheel under `out`; returns the files rewritten (none when unchanged)."""
    lib = build_library(book, backends)
    written: list[Path] = []
    for rel, data in [*((r, t.encode("utf-8")) for r, t in lib.files.items()), (lib.wheel_name, lib.wheel)]:
        path = out / rel
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written
