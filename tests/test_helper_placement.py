"""Issue 13 part 1: a helper appears in full only in the section that introduces it; later notebooks import it.

The grep over generated/ reads every committed notebook in the book's reading order (book.toml [toc]) and fails on
a built-in helper (a snippet's top-level definition) or a saved definition pasted in a second section, and on a
notebook that calls a helper it neither defines nor imports. Planted bugs: a helper pasted twice, an import
dropped. A small book shows the placement itself: first section pastes `train`, the next imports it.
"""
from __future__ import annotations

import ast
import json
from pathlib import Path

from d2lc.build.book import find_chapters, load
from d2lc.build.compile import build
from d2lc.build.placement import in_reading_order
from d2lc.emit.assembly import defined_names, shared_snippets

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("pytorch", "tensorflow", "jax", "mxnet", "paddle")


def helper_names() -> set[str]:
    """Every name a built-in helper snippet defines at its top level (harness glue left out)."""
    names = {n for _, code in shared_snippets() for n in defined_names(code)}
    for f in sorted((ROOT / "targets").glob("*/snippets/*.py")):
        if f.stem != "harness_models":
            names |= set(defined_names(f.read_text(encoding="utf-8")))
    return names


def notebook_code(text: str) -> str:
    nb = json.loads(text)
    cells = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return "\n\n".join(c for c in cells if "%pip" not in c)  # the install cell is IPython, not Python


def misplaced(notebooks: list[tuple[str, str]], helpers: set[str], package: str = "d2lbook") -> list[str]:
    """Problems in (name, code) notebooks in reading order: a helper defined again after the section that
    introduced it, a helper used but neither defined nor imported, an import of a helper not introduced before."""
    introduced: dict[str, str] = {}
    problems = []
    for name, code in notebooks:
        tree = ast.parse(code)
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))} & helpers
        imported = {a.name for n in tree.body if isinstance(n, ast.ImportFrom) and (n.module or "").startswith(package)
                    for a in n.names}
        called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)} & helpers
        problems += [f"{name}: `{h}` pasted again (introduced in {introduced[h]})" for h in sorted(defined & set(introduced))]
        problems += [f"{name}: calls `{h}` without defining or importing it" for h in sorted(called - defined - imported)]
        problems += [f"{name}: imports `{h}` before any section introduced it" for h in sorted(imported - set(introduced))]
        for h in sorted(defined):
            introduced.setdefault(h, name)
    return problems


def committed(target: str) -> list[tuple[str, str]]:
    book = load(ROOT)
    return [(c.source, notebook_code((ROOT / "generated" / target / c.rel.with_suffix(".ipynb")).read_text()))
            for c in in_reading_order(book, find_chapters([book.sources_dir]))]


def test_no_helper_is_pasted_outside_the_section_that_introduces_it():
    from d2lc.build.saved import saved_definitions
    saved = {s.stmt.name for s in saved_definitions(load(ROOT))[0]}
    assert "corr2d" in saved  # the book saves one definition at least, and later sections call it
    helpers = helper_names() | saved
    for target in TARGETS:
        notebooks = committed(target)
        assert misplaced(notebooks, helpers) == [], target
        assert sum("def train(" in code for _, code in notebooks) == 1, target  # one section teaches it


def test_a_helper_pasted_twice_and_a_dropped_import_are_caught():
    helpers = helper_names()
    notebooks = committed("pytorch")
    home = next(i for i, (_, code) in enumerate(notebooks) if "def train(" in code)
    later = next(i for i, (_, code) in enumerate(notebooks) if i > home and "import fashion_mnist, train" in code)
    train_def = next(ast.get_source_segment(notebooks[home][1], n) for n in ast.parse(notebooks[home][1]).body
                     if isinstance(n, ast.FunctionDef) and n.name == "train")
    pasted = list(notebooks)
    pasted[later] = (notebooks[later][0], notebooks[later][1] + "\n\n" + train_def)
    assert any("`train` pasted again" in p for p in misplaced(pasted, helpers))
    dropped = list(notebooks)
    dropped[later] = (notebooks[later][0], notebooks[later][1].replace("import fashion_mnist, train", "import fashion_mnist"))
    assert any("calls `train` without" in p for p in misplaced(dropped, helpers))


SECTION = """# {title}

```d2l
features = normal((64, 2))
targets = features @ tensor([[2.0], [-3.4]]) + 4.2
model Regression(n_out: int = 1):
    layer = Linear(n_out)
    def forward(X: f32[n, 2]):
        return layer(X)
net = Regression()
train(net, load_array(features, targets, 32), loss=squared_loss, optimizer=SGD(lr=0.03), epochs=1)
```
"""


def test_in_a_book_the_first_section_pastes_a_helper_and_the_next_imports_it(tmp_path):
    (tmp_path / "sources" / "chapter_a").mkdir(parents=True)
    for stem in ("first", "second"):
        (tmp_path / "sources" / "chapter_a" / f"{stem}.md").write_text(SECTION.format(title=stem))
    toml = '[book]\ntitle = "T"\n[toc]\nchapter_a = ["second", "first"]\n[versions]\npytorch = "torch==2.13.0"\n[site]\nurl = "https://example.org/book"\n'
    (tmp_path / "book.toml").write_text(toml)
    result = build([tmp_path / "sources"], ["pytorch"], tmp_path / "out")
    assert not result.errors, result.errors
    code = {p.stem: "".join("".join(c["source"]) for c in json.loads(t)["cells"]) for p, t in result.outputs.items()}
    assert "def train(" in code["second"] and "def train(" not in code["first"]  # [toc] order, not file order
    assert "from d2lbook.torch import load_array, train" in code["first"]
    assert "https://example.org/book/_static/d2lbook-0.1.0-py3-none-any.whl" in code["first"]
    assert "D2LBOOK_WHEEL" in code["first"] and "D2LBOOK_WHEEL" not in code["second"]
    alone = build([tmp_path / "sources" / "chapter_a" / "first.md"], ["pytorch"], tmp_path / "alone")
    assert list(alone.outputs.values()) == [t for p, t in result.outputs.items() if p.stem == "first"]  # same alone


DEF = "@save\ndef f(x: f32[n]) -> f32[n]:\n    return x\n"


def test_misused_save_markers_are_errors_at_the_marker():
    from d2lc.build.checked import compile_chapter
    from d2lc.core.diagnostics import CompileError
    cases = {"@save\nx = 1\n": "after a marker line", "@cache\ndef f(x: f32[n]) -> f32[n]:\n    return x\n": "unknown marker",
             DEF + DEF: "saved twice in this chapter",
             "def g(x: f32[n]) -> f32[n]:\n    @save\n    def f(y: f32[n]) -> f32[n]:\n        return y\n    return f(x)\n":
                 "not at the top level"}
    for code, message in cases.items():
        try:
            compile_chapter(f"# T\n\n```d2l\n{code}```\n", "t.md", set(TARGETS))
        except CompileError as exc:
            assert message in exc.diagnostics[0].message and exc.diagnostics[0].loc.line >= 4, (code, exc.diagnostics)
        else:
            raise AssertionError(f"accepted: {code}")


def test_a_name_saved_by_two_sections_is_an_error_naming_the_first(tmp_path):
    from d2lc.build.book import load
    from d2lc.build.saved import saved_definitions
    (tmp_path / "sources" / "chapter_a").mkdir(parents=True)
    for stem in ("one", "two"):
        (tmp_path / "sources" / "chapter_a" / f"{stem}.md").write_text(f"# {stem}\n\n```d2l\n{DEF}```\n")
    (tmp_path / "book.toml").write_text('[book]\ntitle = "T"\n[toc]\nchapter_a = ["two", "one"]\n')
    saved, errors = saved_definitions(load(tmp_path))
    assert [s.source for s in saved] == ["sources/chapter_a/two.md"]
    assert len(errors) == 1 and errors[0].loc.file == "sources/chapter_a/one.md"
    assert "saved to the library twice (first in sources/chapter_a/two.md:5)" in errors[0].message


SAVED = """# {title}

```d2l
@save
def {name}(y_hat: f32[n], y: f32[n]) -> f32[]:
    return ((y_hat - y) ** 2).mean()

@save
model {model}(k: int = 3):
    w = param((4, k), init=zeros)
    def forward(X: f32[b, 4]) -> f32[b, k]:
        return X @ w

print({name}(ones(3), zeros(3)))
```
"""


def test_saved_definitions_follow_the_built_ins_in_reading_order_documented_and_importable(tmp_path):
    import pytest
    torch = pytest.importorskip("torch")
    from d2lc.build.library import build_library
    from d2lc.emit.backend import get_backend
    (tmp_path / "sources" / "chapter_a").mkdir(parents=True)
    (tmp_path / "sources" / "chapter_a" / "one.md").write_text(SAVED.format(title="One", name="loss_one", model="One"))
    (tmp_path / "sources" / "chapter_a" / "two.md").write_text(SAVED.format(title="Two", name="loss_two", model="Two"))
    (tmp_path / "book.toml").write_text('[book]\ntitle = "T"\n[toc]\nchapter_a = ["two", "one"]\n')
    lib = build_library(load(tmp_path), [get_backend("pytorch")])
    code = lib.files["d2lbook/torch.py"]
    order = [code.index(s) for s in ("def train(", "def loss_two(", "class Two(", "def loss_one(", "class One(")]
    assert order == sorted(order)
    assert '"""Saved in chapter_a/two.md (Two)."""' in code
    ns: dict = {}
    exec(compile(code, "d2lbook/torch.py", "exec"), ns)
    assert float(ns["loss_one"](torch.ones(3), torch.zeros(3))) == 1.0
    assert ns["Two"]()(torch.ones(2, 4)).shape == (2, 3)
    assert build_library(load(tmp_path), [get_backend("pytorch")]).wheel == lib.wheel  # byte-deterministic


USES = """# Uses

```d2l
print(loss_one(ones(3), zeros(3)))
net = One(2)
print(net(ones((2, 4))).shape)
```
"""


def test_a_later_section_calls_a_saved_definition_and_its_notebook_imports_it(tmp_path):
    """Section `uses` calls `loss_one` and `One`, saved by section `one`: it compiles (in the book, alone, and for
    the harness), its notebook imports both from the library, and that code runs against the built library."""
    import os
    import subprocess
    import sys
    import pytest
    pytest.importorskip("torch")
    from d2lc.build.checked import compile_chapter
    from d2lc.build.library import build_library
    from d2lc.emit.backend import get_backend
    (tmp_path / "sources" / "chapter_a").mkdir(parents=True)
    (tmp_path / "sources" / "chapter_a" / "one.md").write_text(SAVED.format(title="One", name="loss_one", model="One"))
    (tmp_path / "sources" / "chapter_a" / "uses.md").write_text(USES)
    (tmp_path / "book.toml").write_text('[book]\ntitle = "T"\n[toc]\nchapter_a = ["one", "uses"]\n')
    result = build([tmp_path / "sources"], ["pytorch"], tmp_path / "out")
    assert not result.errors, result.errors
    code = {p.stem: notebook_code(t) for p, t in result.outputs.items()}
    assert "from d2lbook.torch import One, loss_one" in code["uses"] and "def loss_one" not in code["uses"]
    assert "def loss_one" in code["one"]
    assert misplaced([("one", code["one"]), ("uses", code["uses"])], {"loss_one", "One"}) == []
    alone = build([tmp_path / "sources" / "chapter_a" / "uses.md"], ["pytorch"], tmp_path / "alone")
    assert [notebook_code(t) for t in alone.outputs.values()] == [code["uses"]]
    harness = compile_chapter(USES, str(tmp_path / "sources" / "chapter_a" / "uses.md"), set(TARGETS))  # file path
    assert [c.saved_from for c in harness.cells if c.saved_from] == ["sources/chapter_a/one.md"] * 2  # loss_one, One
    for rel, text in build_library(load(tmp_path), [get_backend("pytorch")]).files.items():
        (tmp_path / "lib" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "lib" / rel).write_text(text)
    run = subprocess.run([sys.executable, "-c", code["uses"]], env={**os.environ, "PYTHONPATH": str(tmp_path / "lib")},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["tensor(1.)", "torch.Size([2,", "2])"]


def test_a_helper_first_needed_inside_a_loop_is_defined_before_the_loop():
    """A figure drawn in a loop (the book's attention-pooling heat maps, one per kernel) pasted `def heatmap` into
    the loop's body, defined anew at every pass and invisible to the notebook's top level."""
    from helpers import emit
    for target in ("pytorch", "mxnet"):
        code = emit("for k in (1.0, 2.0):\n    heatmap(ones((2, 3)) * k)\n    if k > 1.0:\n        plot(arange(3.0), arange(3.0) * k)\n", target)
        top = ast.parse(code).body
        defs = [i for i, n in enumerate(top) if isinstance(n, ast.FunctionDef)]
        loop = next(i for i, n in enumerate(top) if isinstance(n, ast.For))
        assert {top[i].name for i in defs} == {"heatmap", "plot"} and max(defs) < loop, (target, code)
        assert not [n for n in ast.walk(top[loop]) if isinstance(n, ast.FunctionDef)], (target, code)
