"""The suite's compiled chapters kept between runs (compiler/harness/chapter_cache.py)."""
from pathlib import Path

import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.harness import chapter_cache
from d2lc.harness.cases import emit_for, load_chapter

CHAPTER = '''# Cached

```d2l
def scaled_softmax(x: f32[n, k], s: float) -> f32[n, k]:
    return softmax(x * s, axis=-1)
```
'''


def _fresh(path: Path, backends):
    ch = load_chapter(path, set(target_names()))
    for b in backends:
        emit_for(ch, b)
    return ch


def test_an_unchanged_chapter_comes_from_the_cache_and_a_changed_one_is_compiled(tmp_path, monkeypatch):
    backends = [get_backend("pytorch"), get_backend("jax")]
    path = tmp_path / "ch.md"
    path.write_text(CHAPTER, encoding="utf-8")
    known = set(target_names())
    first = chapter_cache.cached_chapter(path, known, backends, tmp_path / "cache")
    assert list((tmp_path / "cache" / "harness").glob("*.pickle"))

    def no_compile(*a, **k):
        raise AssertionError("compiled again")

    monkeypatch.setattr(chapter_cache, "load_chapter", no_compile)
    again = chapter_cache.cached_chapter(path, known, backends, tmp_path / "cache")
    fresh = _fresh(path, backends)
    for ch in (first, again):  # what the cache gives is what compiling gives
        assert ch.sources == fresh.sources and ch.emit_errors == fresh.emit_errors and ch.key == fresh.key
        assert [(c.name, [r.callee for r in c.rows], [s.name for s in c.specs]) for c in ch.cases] == \
            [(c.name, [r.callee for r in c.rows], [s.name for s in c.specs]) for c in fresh.cases]
        assert set(ch.effective) == {"pytorch", "jax"} and all(c.chapter is ch for c in ch.cases)
    path.write_text(CHAPTER.replace("x * s", "x * s * 2.0"), encoding="utf-8")  # a changed chapter misses
    with pytest.raises(AssertionError, match="compiled again"):
        chapter_cache.cached_chapter(path, known, backends, tmp_path / "cache")
    monkeypatch.undo()
    changed = chapter_cache.cached_chapter(path, known, backends, tmp_path / "cache")
    assert "2.0" in changed.sources["pytorch"] and "2.0" not in first.sources["pytorch"]


def test_an_unreadable_entry_is_compiled_again(tmp_path):
    backends = [get_backend("pytorch")]
    path = tmp_path / "ch.md"
    path.write_text(CHAPTER, encoding="utf-8")
    chapter_cache.cached_chapter(path, set(target_names()), backends, tmp_path / "cache")
    (entry,) = (tmp_path / "cache" / "harness").glob("*.pickle")
    entry.write_bytes(b"not a pickle")
    ch = chapter_cache.cached_chapter(path, set(target_names()), backends, tmp_path / "cache")
    assert ch.sources["pytorch"] == _fresh(path, backends).sources["pytorch"]
    assert entry.read_bytes() != b"not a pickle"  # written again


def test_a_backend_made_in_memory_is_never_cached(tmp_path):
    """A derived twin (a planted bug) has code the compiler version cannot see: its chapters compile every time."""
    twin = get_backend("pytorch").derive(name="pytorch")
    path = tmp_path / "ch.md"
    path.write_text(CHAPTER, encoding="utf-8")
    chapter_cache.cached_chapter(path, set(target_names()), [twin], tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
