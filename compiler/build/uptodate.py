"""The whole-build stamp: a `d2lc build` with nothing changed costs one hash of the book's inputs and outputs.

After a build that ended without errors, `d2lc build` records two digests in the compile cache folder:
the inputs as they were when it started (book.toml, every file under the sources folder, the
bibliography, the options that shape the outputs, the compiler's code version, the versions of the
site and execution toolchains; for --execute also the environments' lock files, interpreters and the
data folder) and the outputs it left (name, size and modification time of every file under the
notebook, executed-copy and site folders). The next build whose digests both match has nothing to do
and returns before any backend, nbformat or Sphinx is imported. Any difference runs the ordinary
build, whose own caches (compile cache, executed-copy cache, the site's page stamp) keep it incremental.

Inputs are hashed by content (a checkout that rewrites a file with the same bytes changes nothing);
outputs by their stat signature (the build is their only writer, and any other write moves the
modification time). Only the standard library and the stdlib-only d2lc.core.cache are imported here.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from d2lc.build.book import CONFIG_NAME, Book
from d2lc.core.cache import compiler_version, default_folder

STAMP_VERSION = "1"  # bump when what a stamp covers changes
TOOLCHAIN = ("sphinx", "myst-parser", "sphinx-design", "furo", "docutils", "nbclient", "nbformat", "jupyter_client",
             "ipykernel")
REPO_ROOT = Path(__file__).resolve().parents[2]  # envs/*.lock live here (as in d2lc.build.envs)


def data_fingerprint(folder: Path) -> str:
    """A digest of the data files' names, sizes and contents' first bytes (the data can be large)."""
    h = hashlib.sha256()
    if folder.is_dir():
        for f in sorted(p for p in folder.rglob("*") if p.is_file()):
            st = f.stat()
            h.update(f"{f.relative_to(folder).as_posix()}\0{st.st_size}\0".encode())
            with f.open("rb") as fh:
                h.update(fh.read(1 << 16))
    return h.hexdigest()


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    found = []
    for here, dirs, files in os.walk(folder, followlinks=True):
        dirs.sort()
        found.extend(Path(here) / f for f in sorted(files))
    return found


def _hash_contents(h, folder: Path) -> None:
    for f in _files(folder):
        h.update(f"{f.relative_to(folder).as_posix()}\0".encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())


def _hash_signatures(h, folder: Path) -> None:
    h.update(f"{folder}\0".encode())
    for f in _files(folder):
        try:
            st = f.stat()
        except OSError:
            continue
        h.update(f"{f.relative_to(folder).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


@dataclass(frozen=True)
class Options:
    """What a build was asked for, beyond book.toml (what changes its outputs, not how it reports)."""
    execute: bool = False
    execute_only: tuple[str, ...] = ()
    small: bool = False
    site: bool = True


def inputs_digest(book: Book, options: Options) -> str:
    """A digest of everything a build of `book` with `options` reads (see the module docstring)."""
    h = hashlib.sha256()
    for part in (STAMP_VERSION, compiler_version(), str(book.root), sys.executable,
                 json.dumps(options.__dict__, sort_keys=True)):
        h.update(f"{part}\0".encode())
    h.update((book.root / CONFIG_NAME).read_bytes() if (book.root / CONFIG_NAME).is_file() else b"no config")
    _hash_contents(h, book.sources_dir)
    if book.site.bibliography:
        bib = book.path(book.site.bibliography)
        h.update(bib.read_bytes() if bib.is_file() else b"no bibliography")
    for dist in TOOLCHAIN:
        h.update(f"{dist} {_version(dist)}\0".encode())
    h.update(repr([(f, (Path(f) / "MathJax.js").is_file()) for f in book.site.mathjax]).encode())
    if options.execute:
        h.update(repr(sorted((k, v) for k, v in os.environ.items() if k.startswith("D2LC_"))).encode())
        for lock in sorted((REPO_ROOT / "envs").glob("*.lock")):
            h.update(f"{lock.name}\0".encode() + lock.read_bytes())
        for base in dict.fromkeys((Path.cwd(), REPO_ROOT)):
            h.update(repr(sorted(str(p) for p in base.glob(".venv-*/bin/python"))).encode())
        h.update(data_fingerprint(book.path(book.execute.data)).encode())
    return h.hexdigest()


def outputs_digest(book: Book) -> str:
    """A digest of the stat signatures of every file the build leaves: notebooks, the library, executed copies,
    the site."""
    h = hashlib.sha256()
    for rel in (book.output, book.library.output, book.execute.output, book.site.output):
        _hash_signatures(h, book.path(rel))
    return h.hexdigest()


class BuildStamp:
    """The stamp of one book built with one set of options, in the compile cache folder."""

    def __init__(self, book: Book, options: Options):
        self.book, self.options = book, options
        self.inputs = inputs_digest(book, options)  # taken before the build: an edit during it is seen next time
        key = hashlib.sha256(f"{book.root}\0{json.dumps(options.__dict__, sort_keys=True)}".encode()).hexdigest()[:24]
        self.path = default_folder(book.path(book.output)) / "builds" / f"{key}.json"

    def _recorded(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def unchanged(self) -> str | None:
        """The summary of the last build when its inputs and outputs are exactly as it left them, else None."""
        last = self._recorded()
        if last.get("inputs") != self.inputs or last.get("outputs") != outputs_digest(self.book):
            return None
        return str(last.get("summary", ""))

    def record(self, summary: str) -> None:
        """Store the stamp after a build without errors (best effort: without it the next build only takes longer)."""
        text = json.dumps({"inputs": self.inputs, "outputs": outputs_digest(self.book), "summary": summary}, indent=1)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            return
