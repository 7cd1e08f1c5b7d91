"""The compile cache: a rebuild serves unchanged notebooks from `.d2lc-cache/` with the same bytes a
fresh compile writes, whatever the cwd, and never serves an entry made by other compiler code.

Builds run in-process through `d2lc.cli.main`, on a small book of three chapters (so `--jobs 2`
really forks workers), with the cache folder given by $D2LC_CACHE_DIR.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from d2lc.core import cache
from d2lc.cli import main as cli

TARGETS = "pytorch,tensorflow,jax"

CHAPTER = """\
# Chapter {n}

Prose.

```d2l
X = arange(12, dtype=float32).reshape((3, 4)) * {n}
W = ones((4, 2))
print((X @ W).sum(axis=0))
```

```d2l
def square_sum(a: f32[n]) -> f32[]:
    return (a * a).sum()

x = arange(4.0)
g = grad(square_sum(x), x)
print(g)
```
"""


def make_book(root: Path) -> Path:
    book = root / "book"
    (book / "part").mkdir(parents=True)
    for n, rel in enumerate(("one.md", "two.md", "part/three.md"), start=1):
        (book / rel).write_text(CHAPTER.format(n=n), encoding="utf-8")
    return book


def compile_book(out: str, *extra: str) -> int:
    try:
        return cli.main(["compile", f"--target={TARGETS}", "book", "-o", out, *extra])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def entries(folder: Path) -> list[Path]:
    return sorted((folder / "notebooks").rglob("*.json"))


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_book(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(cache.ENV_VAR, str(tmp_path / "cache"))
    return tmp_path


def test_cold_warm_and_uncached_builds_write_the_same_bytes(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert compile_book("cold") == 0
    assert "unchanged" not in capsys.readouterr().out
    assert len(entries(work / "cache")) == 18  # 3 chapters x 3 targets: each notebook and the helpers it needs
    assert compile_book("warm") == 0
    assert "(9 rewritten; 9 unchanged, not compiled again (compile cache))" in capsys.readouterr().out
    assert compile_book("uncached", "--no-cache") == 0
    assert compile_book("serial", "--no-cache", "--jobs=1") == 0
    cold = tree(work / "cold")
    assert len(cold) == 9
    for other in ("warm", "uncached", "serial"):
        assert tree(work / other) == cold, f"{other} differs from the cold build"


def test_no_cache_neither_reads_nor_writes_the_cache(work: Path) -> None:
    assert compile_book("out", "--no-cache") == 0
    assert not (work / "cache").exists()


def test_the_cache_is_shared_by_copies_of_the_book_in_other_folders(work: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert compile_book("out") == 0
    elsewhere = work / "elsewhere"
    shutil.copytree(work / "book", elsewhere / "book")
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert compile_book("out") == 0
    assert "9 unchanged" in capsys.readouterr().out
    assert compile_book("fresh", "--no-cache") == 0
    assert tree(elsewhere / "out") == tree(elsewhere / "fresh") == tree(work / "out")


def test_a_rebuild_reads_the_cache_and_a_compiler_change_ignores_it(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert compile_book("out") == 0
    good = tree(work / "out")
    for entry in entries(work / "cache"):  # what only a build that reads these files can write
        entry.write_text('{"planted": true}\n', encoding="utf-8")
    assert compile_book("served") == 0
    assert set(tree(work / "served").values()) == {b'{"planted": true}\n'}
    monkeypatch.setattr(cache, "compiler_version", lambda: "some other compiler")
    assert compile_book("after_change") == 0
    assert tree(work / "after_change") == good


def test_the_version_hashes_the_compiler_its_grammar_and_every_backend(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    import d2lc
    import d2lc_targets
    folders = cache._package_dirs()
    assert Path(d2lc.__file__).parent.resolve() in folders
    assert Path(d2lc_targets.__file__).parent.resolve() in folders
    assert any((f / "d2l.lark").is_file() for f in folders)
    package = tmp_path / "pkg"
    (package / "snippets").mkdir(parents=True)
    (package / "snippets" / "helper.py").write_text("def helper(): pass\n", encoding="utf-8")
    monkeypatch.setattr(cache, "_package_dirs", lambda: [package])
    versions = []
    for edit in ("", "def helper(): return 1\n"):
        if edit:
            (package / "snippets" / "helper.py").write_text(edit, encoding="utf-8")
        cache.compiler_version.cache_clear()
        versions.append(cache.compiler_version())
    cache.compiler_version.cache_clear()
    assert versions[0] != versions[1]


def test_a_failed_chapter_is_not_cached(work: Path) -> None:
    (work / "book" / "two.md").write_text(CHAPTER.format(n=2).replace("W = ones((4, 2))", "W = ones((5, 2))"),
                                          encoding="utf-8")
    assert compile_book("out") == 1
    assert not (work / "out").exists()
    assert len(entries(work / "cache")) == 12  # the two good chapters only (notebooks and their needs)


def test_a_rebuild_from_the_cache_loads_neither_compiler_nor_backends(work: Path) -> None:
    """What keeps a warm rebuild of the whole book under a second: it only hashes and compares."""
    assert compile_book("out") == 0
    heavy = ("libcst", "lark", "nbformat", "d2lc.passes.pipeline", "d2lc.emit.base", "d2lc_targets.pytorch")
    code = ("import sys; from d2lc.cli import main as cli; "
            f"rc = cli.main(['compile', '--target={TARGETS}', 'book', '-o', 'out']); "
            f"print(rc, [m for m in {heavy!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=work, env=dict(os.environ), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "9 unchanged" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "0 []"
