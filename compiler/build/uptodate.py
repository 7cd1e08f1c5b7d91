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
modification time). Each part is digested on its own, so that a stale stamp can say which part changed
(`BuildStamp.changes`). Only the standard library and the stdlib-only d2lc.core.cache are imported here.
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

STAMP_VERSION = "2"  # bump when what a stamp covers changes
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


def _digest(feed) -> str:
    h = hashlib.sha256()
    feed(h)
    return h.hexdigest()


def input_parts(book: Book, options: Options) -> dict[str, str]:
    """A digest of each part of what a build of `book` with `options` reads (see the module docstring), by name,
    so that a stale stamp can say what changed."""
    def text(*parts: str):
        return lambda h: [h.update(f"{p}\0".encode()) for p in parts]

    def file(path: Path, missing: bytes):
        return lambda h: h.update(path.read_bytes() if path.is_file() else missing)

    parts = {
        "stamp format": text(STAMP_VERSION),
        "compiler code and shaping libraries": text(compiler_version()),
        "book root": text(str(book.root)),
        "interpreter": text(sys.executable),
        "options": text(json.dumps(options.__dict__, sort_keys=True)),
        CONFIG_NAME: file(book.root / CONFIG_NAME, b"no config"),
        "sources": lambda h: _hash_contents(h, book.sources_dir),
        "toolchain versions": text(*(f"{dist} {_version(dist)}" for dist in TOOLCHAIN)),
        "local MathJax": text(repr([(f, (Path(f) / "MathJax.js").is_file()) for f in book.site.mathjax])),
    }
    if book.site.bibliography:
        parts["bibliography"] = file(book.path(book.site.bibliography), b"no bibliography")
    if options.execute:
        parts["D2LC_* variables"] = text(repr(sorted((k, v) for k, v in os.environ.items() if k.startswith("D2LC_"))))
        parts["environment lock files"] = lambda h: [h.update(f"{lock.name}\0".encode() + lock.read_bytes())
                                                     for lock in sorted((REPO_ROOT / "envs").glob("*.lock"))]
        parts["environment interpreters"] = text(*(repr(sorted(str(p) for p in base.glob(".venv-*/bin/python")))
                                                   for base in dict.fromkeys((Path.cwd(), REPO_ROOT))))
        parts["data folder"] = text(data_fingerprint(book.path(book.execute.data)))
    return {name: _digest(feed) for name, feed in parts.items()}


def output_parts(book: Book) -> dict[str, str]:
    """A digest of the stat signatures of every file the build leaves, per output folder: notebooks, the library,
    executed copies, the site."""
    return {rel: _digest(lambda h, rel=rel: _hash_signatures(h, book.path(rel)))
            for rel in dict.fromkeys((book.output, book.library.output, book.execute.output, book.site.output))}


class BuildStamp:
    """The stamp of one book built with one set of options, in the compile cache folder."""

    def __init__(self, book: Book, options: Options):
        self.book, self.options = book, options
        self.inputs = input_parts(book, options)  # taken before the build: an edit during it is seen next time
        key = hashlib.sha256(f"{book.root}\0{json.dumps(options.__dict__, sort_keys=True)}".encode()).hexdigest()[:24]
        self.path = default_folder(book.path(book.output)) / "builds" / f"{key}.json"

    def _recorded(self) -> dict:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def changes(self) -> list[str]:
        """What differs from the last build without errors: the names of the changed inputs, then "output folder
        X" for each output folder touched since; ["no build recorded"] when there is none."""
        last = self._recorded()
        if not isinstance(last.get("inputs"), dict) or not isinstance(last.get("outputs"), dict):
            return ["no build recorded"]
        names = [n for n in dict.fromkeys([*self.inputs, *last["inputs"]])
                 if self.inputs.get(n) != last["inputs"].get(n)]
        outputs = output_parts(self.book)
        names += [f"output folder {rel}" for rel in dict.fromkeys([*outputs, *last["outputs"]])
                  if outputs.get(rel) != last["outputs"].get(rel)]
        return names

    def unchanged(self) -> str | None:
        """The summary of the last build when its inputs and outputs are exactly as it left them, else None."""
        if self.changes():
            return None
        return str(self._recorded().get("summary", ""))

    def record(self, summary: str) -> None:
        """Store the stamp after a build without errors (best effort: without it the next build only takes longer)."""
        text = json.dumps({"inputs": self.inputs, "outputs": output_parts(self.book), "summary": summary},
                          indent=1, sort_keys=True)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            tmp.write_text(text + "\n", encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            return
