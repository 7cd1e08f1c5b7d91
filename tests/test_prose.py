"""What a reader of one target's notebook reads: prose about their framework's code, never about the tool that made
it (issue 13, part 5). The preface and docs/ may speak of the compiler; the notebooks in generated/ may not."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ALL = ("pytorch", "tensorflow", "jax", "mxnet", "paddle")
# the tool and its language, in any form: "the DSL", "the compiler", "compiled code", "compiles to", "d2lc"
TOOL_WORDS = re.compile(r"\b(DSL|d2lc|compil\w*|this language|translation targets?)\b", re.IGNORECASE)


def prose_lines(nb: Path) -> list[str]:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    return [ln for c in cells if c["cell_type"] == "markdown" for ln in "".join(c["source"]).splitlines()]


@pytest.mark.parametrize("target", ALL)
def test_notebook_prose_does_not_speak_of_the_tool(target):
    notebooks = sorted((ROOT / "generated" / target).rglob("*.ipynb"))
    assert len(notebooks) >= 30
    found = [f"{nb.relative_to(ROOT)}: {ln.strip()}" for nb in notebooks for ln in prose_lines(nb) if TOOL_WORDS.search(ln)]
    assert not found, f"{len(found)} prose lines about the tool:\n" + "\n".join(found)


def test_the_pattern_catches_what_it_is_for():
    for line in ("In the DSL the whole network is one list", "The compiled model uses nn.Linear",
                 "The built-in loss compiles to nn.CrossEntropyLoss()", "the compiler inserts a copy", "run d2lc"):
        assert TOOL_WORDS.search(line), line
    for line in ("the target is the next token", "a model predicts a target", "the framework's optimised routines"):
        assert not TOOL_WORDS.search(line), line


# ---- {op}`name` and {layer}`Kind`: each target's own spelling -------------------------------------------------------
ROLE_CHAPTER = """# Roles

A convolution is a {layer}`Conv2d` layer; a product is {op}`matmul`; {op}`exp` is elementwise.

```d2l
x = ones((2, 2))
```
"""
CONV = {"pytorch": "nn.Conv2d", "tensorflow": "tf.keras.layers.Conv2D", "jax": "nn.Conv", "mxnet": "nn.Conv2D",
        "paddle": "nn.Conv2D"}
EXP = {"pytorch": "torch.exp", "tensorflow": "tf.exp", "jax": "jnp.exp", "mxnet": "np.exp", "paddle": "paddle.exp"}


def _prose(text: str, target: str) -> str:
    from d2lc.build.checked import compile_chapter
    from d2lc.build.notebook import emit_cells
    from d2lc.emit.backend import get_backend
    module = compile_chapter(text, "roles.md", set(ALL))
    return "\n".join(src for kind, src, _ in emit_cells(module, get_backend(target)) if kind == "markdown")


@pytest.mark.parametrize("target", ALL)
def test_a_role_is_the_targets_own_spelling(target):
    prose = _prose(ROLE_CHAPTER, target)
    assert f"a `{CONV[target]}` layer" in prose and f"`{EXP[target]}` is elementwise" in prose, prose
    assert "{layer}" not in prose and "{op}" not in prose


def test_the_spelling_is_what_the_code_calls():
    """The prose names the constructor the target's model code really calls."""
    from helpers import chapter
    from d2lc.build.checked import compile_chapter
    from d2lc.build.notebook import emit_cells
    from d2lc.emit.backend import get_backend
    dsl = "model M():\n    c = Conv2d(4, kernel=3)\n    def forward(X: f32[n, 1, 8, 8]):\n        return c(X)\nm = M()\n"
    for target in ALL:
        code = "\n".join(src for kind, src, _ in emit_cells(compile_chapter(chapter(dsl), "t.md", set(ALL)),
                                                           get_backend(target)) if kind == "code")
        assert CONV[target] + "(" in code, (target, code)


@pytest.mark.parametrize("role, name, hint", [("layer", "Conv2D", "did you mean `Conv2d`?"),
                                              ("op", "Linear", "write {layer}`Linear` for a layer"),
                                              ("op", "nosuchop", "docs/dsl.md lists the ops and layers")])
def test_an_unknown_name_is_an_error_at_its_place(role, name, hint):
    from d2lc.build.checked import compile_chapter
    from d2lc.core.diagnostics import CompileError
    text = f"# Roles\n\nFirst paragraph.\n\nThen {{{role}}}`{name}` here.\n"
    with pytest.raises(CompileError) as exc:
        compile_chapter(text, "roles.md", set(ALL))
    d = exc.value.diagnostics[0]
    assert (d.loc.line, d.loc.col) == (5, 9 + len(role)) and name in d.message and d.hint == hint, d


def test_the_web_book_shows_each_tab_its_spelling():
    from d2lc.build.site.markup import Labels
    from d2lc.build.site.pages import TargetInfo, section_page
    targets = [TargetInfo(t, t, None, False, "", "") for t in ALL]
    page = section_page("roles", "roles.md", ROLE_CHAPTER, targets, Labels(), set(ALL))
    assert "{layer}" not in page.text and "{op}" not in page.text
    for t in ALL:
        block = page.text.split(f"d2lc-only d2lc-only-{t}\n", 1)[1].split("::::", 1)[0]
        assert f"`{CONV[t]}`" in block, (t, block)
