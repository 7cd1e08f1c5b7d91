"""The suite's compiled chapters kept between runs: an unchanged chapter costs a hash and an unpickle.

A chapter's entry holds what `load_chapter` and `emit_for` made of it (the IR with gradient wrappers,
the test cases, each target's function module and emission errors), under a `content_key` of the
compiler's own code version, the chapter's path and text, the known targets and the emitted ones,
so any change to the compiler or the chapter misses it; backends made in memory (a test's derived twin)
are never cached. Entries live in `CACHE/harness/`, are written
by this process only (atomically) and read back with pickle: the cache folder is trusted like the
build's own outputs. An entry that cannot be read is compiled again.
"""
from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path

from d2lc.core.cache import content_key
from d2lc.emit.backend import Backend, get_backend
from d2lc.harness.cases import Chapter, emit_for, load_chapter, set_effective

FOLDER = "harness"


def chapter_key(path: Path, text: str, known: set[str], backends: list[Backend]) -> str:
    return content_key("harness-chapter", str(path), text, ",".join(sorted(known)), ",".join(b.name for b in backends))


def cached_chapter(path: Path, known: set[str], backends: list[Backend], cache_dir: Path | None) -> Chapter:
    """The chapter compiled and emitted for every backend, from the cache when it holds this text's entry."""
    if cache_dir is None or not all(_registered(b) for b in backends):
        return load_chapter(path, known)  # the runner emits for the targets that turn out available
    text = path.read_text(encoding="utf-8")
    file = Path(cache_dir) / FOLDER / f"{chapter_key(path, text, known, backends)}.pickle"
    try:
        chapter = pickle.loads(file.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError, ValueError):
        chapter = None
    if isinstance(chapter, Chapter):
        if chapter.module is not None:
            for b in backends:
                set_effective(chapter, b)
        return chapter
    chapter = _compiled(path, known, backends)
    _store(file, chapter)
    return chapter


def _registered(backend: Backend) -> bool:
    """Whether `backend` is the installed one of its name (whose code the compiler version hashes), not one
    derived or planted in memory (a test's twin), which the key could not tell from it."""
    try:
        return get_backend(backend.name) is backend
    except (KeyError, LookupError, ValueError):
        return False


def _compiled(path: Path, known: set[str], backends: list[Backend]) -> Chapter:
    chapter = load_chapter(path, known)
    if chapter.error is None:
        for b in backends:
            emit_for(chapter, b)
    return chapter


def _store(file: Path, chapter: Chapter) -> None:
    """Write an entry atomically (best effort: a cache that cannot be written only costs time)."""
    effective, chapter.effective = chapter.effective, {}  # bound methods of emitters: made again on reading
    try:
        data = pickle.dumps(chapter, protocol=pickle.HIGHEST_PROTOCOL)
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=file.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, file)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass
    finally:
        chapter.effective = effective
