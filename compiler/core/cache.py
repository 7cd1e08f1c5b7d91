"""The compile cache: compiled notebooks stored under a hash of everything that determines them.

A notebook's key hashes the compiler's own code version, the target, the chapter's path as the
notebook records it, and the chapter's text; its value is the notebook's JSON text, exactly as
`build_notebook` returned it. The code version hashes every file of the d2lc, d2lc.grammar and
installed backend packages (Python, grammar and snippet files alike), the installed backends'
entry points, and the versions of the libraries that shape the text (formatter, libcst, nbformat,
lark), so any change to the compiler misses every old entry instead of reusing it.

The folder is `.d2lc-cache/` beside the output folder (the book root), or $D2LC_CACHE_DIR. Only the
standard library is imported here: a rebuild with nothing changed never loads the compiler itself.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from functools import lru_cache
from importlib import metadata, util
from pathlib import Path

ENV_VAR = "D2LC_CACHE_DIR"
FOLDER_NAME = ".d2lc-cache"
ENTRY_POINT_GROUP = "d2lc.targets"
OWN_PACKAGES = ("d2lc", "d2lc.grammar")
SHAPING_LIBRARIES = ("ruff-format", "libcst", "nbformat", "lark")


def default_folder(out_dir: Path) -> Path:
    """$D2LC_CACHE_DIR if set, else `.d2lc-cache/` beside the output folder."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(out_dir).resolve().parent / FOLDER_NAME


def _package_dirs() -> list[Path]:
    """The folders of d2lc's own packages and of every installed backend's top-level package (not imported)."""
    names = list(OWN_PACKAGES)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        names.append(ep.module.split(".")[0])
    dirs: list[Path] = []
    for name in dict.fromkeys(names):
        try:
            spec = util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        places = list(spec.submodule_search_locations or []) or ([str(Path(spec.origin).parent)] if spec.origin else [])
        dirs.extend(Path(p) for p in places)
    return sorted(dict.fromkeys(d.resolve() for d in dirs))


def _package_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")


@lru_cache(maxsize=1)
def compiler_version() -> str:
    """A hash of the compiler's own code and of what shapes its output (see the module docstring)."""
    h = hashlib.sha256()
    h.update(f"python {sys.version_info[0]}.{sys.version_info[1]}\0".encode())
    for lib in SHAPING_LIBRARIES:
        try:
            h.update(f"{lib} {metadata.version(lib)}\0".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib} -\0".encode())
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        h.update(f"entry point {ep.name}={ep.value}\0".encode())
    for folder in _package_dirs():
        for path in _package_files(folder):
            h.update(f"{path.relative_to(folder.parent).as_posix()}\0".encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def content_key(kind: str, *parts: str) -> str:
    """A key for anything the compiler derives from `parts` alone (kind: what it is, e.g. "notebook")."""
    h = hashlib.sha256()
    for part in (compiler_version(), kind, *parts):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def notebook_key(text: str, shown_path: str, target: str, requirements: tuple[str, ...] = ()) -> str:
    """The key of one chapter's notebook for one target (and the install cell's pip requirements)."""
    return content_key("notebook", target, shown_path, text, *requirements)


class NotebookCache:
    """Compiled notebooks (or any text under a `content_key`) on disk, one file per key; reads and
    writes are best-effort and atomic."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, key: str) -> Path:
        return self.folder / "notebooks" / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        try:
            return self._path(key).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def put(self, key: str, text: str) -> None:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            os.replace(tmp, path)
        except OSError:  # a cache that cannot be written only makes the next build slower
            return

    def parser_tables(self) -> Path:
        """Where Lark keeps the grammar's LALR tables (Lark checks its own key inside the file)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError:  # Lark then builds the tables and fails quietly to save them
            pass
        return self.folder / "lark-tables.pickle"


_active: NotebookCache | None = None


def activate(cache: NotebookCache | None) -> None:
    """Make `cache` the one this process (and the workers it forks) uses for the parser tables."""
    global _active
    _active = cache


def active() -> NotebookCache | None:
    if _active is not None:
        return _active
    env = os.environ.get(ENV_VAR)
    return NotebookCache(Path(env)) if env else None
