"""Reproducible output: the same chapter compiled by two fresh processes gives byte-identical notebooks.

The two processes get different hash seeds (so set and dict iteration order would show up) and
write into different folders. The notebooks are valid nbformat 4.5: every cell has a valid,
unique, stable id, and the metadata names a kernel and the language.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import build_notebook

BOOK_TARGETS = [t for t in ("pytorch", "tensorflow", "jax", "mxnet") if t in target_names()]

CHAPTER = """\
# Determinism

Prose with *emphasis*, a [link](https://example.org) and unicode: é, ∑, 🙂.

```d2l
X = arange(12, dtype=float32).reshape((3, 4))
W = ones((4, 2))
H = X @ W
print(H.sum(axis=0), H.mean(), H.T)
```

::: only pytorch
A note for PyTorch readers.
:::

::: only tensorflow jax
A note for TensorFlow and JAX readers.
:::

```d2l
x = arange(4.0)
y = 2 * (x * x).sum()
g = grad(y, x)
print(g)
```

```python
# shown as is, never compiled
print("hello")
```

```d2l
def square_sum(a: f32[n]) -> f32[]:
    return (a * a).sum()

total = 0
for i in range(3):
    total += i
print(square_sum(x), total, "done")
```
"""

ID_RE = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")  # nbformat 4.5 cell ids


def compile_in_fresh_process(cwd: Path, out: str, hash_seed: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed)
    return subprocess.run(
        [sys.executable, "-m", "d2lc.cli.main", "compile", f"--target={','.join(BOOK_TARGETS)}", "book", "-o", out],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], dict[str, bytes]]:
    work = tmp_path_factory.mktemp("determinism")
    book = work / "book"
    (book / "part").mkdir(parents=True)
    (book / "chapter.md").write_text(CHAPTER, encoding="utf-8")
    (book / "part" / "second.md").write_text(CHAPTER.replace("# Determinism", "# Second"), encoding="utf-8")
    runs = [compile_in_fresh_process(work, out, seed) for out, seed in (("out1", "1"), ("out2", "2"))]
    for r in runs:
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
    return tree(work / "out1"), tree(work / "out2")


def test_two_fresh_processes_write_byte_identical_notebooks(two_builds) -> None:
    first, second = two_builds
    expected = sorted(f"{t}/{name}" for t in BOOK_TARGETS for name in ("chapter.ipynb", "part/second.ipynb"))
    assert sorted(first) == expected
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], f"{name} differs between two runs"


def test_notebooks_are_valid_nbformat_4_5(two_builds) -> None:
    first, _ = two_builds
    for name, data in first.items():
        text = data.decode("utf-8")
        assert text.endswith("\n") and not text.endswith("\n\n")
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
        assert (nb.nbformat, nb.nbformat_minor) == (4, 5), name
        for c in nb.cells:
            assert c.cell_type in ("markdown", "code")
            if c.cell_type == "code":
                assert c.outputs == [] and c.execution_count is None  # never executed, so nothing volatile


def test_cell_ids_are_valid_and_unique(two_builds) -> None:
    first, _ = two_builds
    for name, data in first.items():
        ids = [c["id"] for c in json.loads(data)["cells"]]
        assert ids and all(ID_RE.match(i) for i in ids), (name, ids)
        assert len(set(ids)) == len(ids), (name, ids)


def test_notebook_metadata_has_kernelspec_and_language_info(two_builds) -> None:
    first, _ = two_builds
    for name, data in first.items():
        meta = json.loads(data)["metadata"]
        ks = meta["kernelspec"]
        assert {"name", "display_name", "language"} <= set(ks), (name, ks)
        assert ks["language"] == "python" and ks["name"] and ks["display_name"]
        assert meta["language_info"]["name"] == "python"
        target = name.split("/")[0]
        assert meta["d2lc"]["target"] == target
        assert meta["d2lc"]["title"] in ("Determinism", "Second")


def test_only_blocks_reach_only_their_targets(two_builds) -> None:
    first, _ = two_builds
    for target in BOOK_TARGETS:
        text = first[f"{target}/chapter.ipynb"].decode("utf-8")
        assert ("A note for PyTorch readers." in text) == (target == "pytorch")
        assert ("A note for TensorFlow and JAX readers." in text) == (target in ("tensorflow", "jax"))


# ---- cell ids in-process: stable across builds, local to the cell that changed -----------------------------
def _ids(text: str, target: str = "pytorch") -> list[str]:
    module = compile_chapter(text, "book/chapter.md", set(BOOK_TARGETS))
    return [c["id"] for c in json.loads(build_notebook(module, get_backend(target)))["cells"]]


def test_cell_ids_do_not_change_between_builds() -> None:
    assert _ids(CHAPTER) == _ids(CHAPTER)


def test_editing_one_cell_changes_only_its_id() -> None:
    before = _ids(CHAPTER)
    after = _ids(CHAPTER.replace("Prose with *emphasis*", "Prose with **strong emphasis**"))
    assert len(before) == len(after)
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(changed) == 1, (before, after)


def test_cell_ids_differ_between_chapters_with_the_same_cells() -> None:
    module_a = compile_chapter(CHAPTER, "book/a.md", set(BOOK_TARGETS))
    module_b = compile_chapter(CHAPTER, "book/b.md", set(BOOK_TARGETS))
    ids_a = [c["id"] for c in json.loads(build_notebook(module_a, get_backend("pytorch")))["cells"]]
    ids_b = [c["id"] for c in json.loads(build_notebook(module_b, get_backend("pytorch")))["cells"]]
    assert not set(ids_a) & set(ids_b)
