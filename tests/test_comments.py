"""The author's comments reach every target at the place they were written (issue 13, part 5).

One cell has a comment in each position the DSL allows (module level, loop, branch, function, model member, model
body loop, forward, end of line, end of cell); every target must show each comment, in the author's order, next to
the code it was written beside. Then every comment of every chapter in sources/ must be in each target's notebook
in generated/ (tests/test_book.py keeps generated/ in sync with sources/)."""
from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from pathlib import Path

import pytest
from helpers import chapter

from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import emit_cells
from d2lc.emit.backend import get_backend
from d2lc.front.chapter import split_chapter

ROOT = Path(__file__).resolve().parent.parent
ALL = ("pytorch", "tensorflow", "jax", "mxnet", "paddle")

CELL = """
# above the first statement
x = arange(6)  # at the end of a line
for i in range(2):  # on a loop's header
    # in a loop
    x = x + i
if x.sum() > 0:
    # in a branch
    y = x * 2
else:
    # in the other branch
    y = x
def double(a: f32[n]) -> f32[n]:
    # in a function
    return a * 2  # after a return
model Net(num_hiddens: int = 8):
    # above a member
    hidden = Linear(num_hiddens)  # after a member
    blocks = []
    for k in range(2):  # on a model body's loop
        # above an append
        blocks.append(Linear(num_hiddens))
    def forward(X: f32[b, 4]):
        # in forward
        H = relu(hidden(X))
        for blk in blocks:
            H = relu(blk(H))  # in forward's loop
        return H
net = Net()  # after a model instance
print(double(x.astype(float32)), net(ones((3, 4))).shape)
# after the last statement
"""

# comment -> ("above": the next code line matches, "end": its own statement's first line matches, "last": no code after)
WHERE = {
    "# above the first statement": ("above", r"x = "),
    "# at the end of a line": ("end", r"x = "),
    "# on a loop's header": ("end", r"for i in range\(2\):"),
    "# in a loop": ("above", r"x = x \+ i"),
    "# in a branch": ("above", r"y = x \* 2"),
    "# in the other branch": ("above", r"y = x$"),
    "# in a function": ("above", r"return a \* 2"),
    "# after a return": ("end", r"return a \* 2"),
    "# above a member": ("above", r"(self\.)?hidden = "),
    "# after a member": ("end", r"(self\.)?hidden = "),
    "# on a model body's loop": ("end", r"for k in range\(2\):"),
    "# above an append": ("above", r"blocks\.append\("),
    "# in forward": ("above", r"H = "),
    "# in forward's loop": ("end", r"H = .*blk\(H\)"),
    "# after a model instance": ("end", r"net = Net\(\)"),
    "# after the last statement": ("last", ""),
}


def target_code(dsl: str, target: str) -> str:
    module = compile_chapter(chapter(dsl), "test.md", set(ALL))
    return "\n".join(src for kind, src, seed in emit_cells(module, get_backend(target)) if kind == "code" and seed != "<setup>")


def statement_start(lines: list[str], i: int) -> str:
    """The first line of the statement line i ends (the formatter may split a long one, its comment after `)`)."""
    if not lines[i].lstrip().startswith((")", "]")):
        return lines[i]
    indent = len(lines[i]) - len(lines[i].lstrip())
    j = i - 1
    while j > 0 and len(lines[j]) - len(lines[j].lstrip()) > indent:
        j -= 1
    return lines[j]


@pytest.mark.parametrize("target", ALL)
def test_each_comment_is_where_the_author_wrote_it(target):
    lines = target_code(CELL, target).splitlines()
    seen = []
    for i, line in enumerate(lines):
        m = re.search(r"#.*$", line)
        if m is None or m.group(0) not in WHERE:
            continue
        text = m.group(0)
        seen.append(text)
        where, pattern = WHERE[text]
        code = line[:m.start()].strip()
        if where == "above":
            assert not code, f"{target}: {text!r} should be on a line of its own:\n{line}"
            nxt = next(ln for ln in lines[i + 1:] if ln.strip() and not ln.strip().startswith("#"))
            assert re.match(pattern, nxt.strip()), f"{target}: {text!r} is above {nxt!r}"
        elif where == "end":
            assert code and re.match(pattern, statement_start(lines, i).strip()), f"{target}: {text!r} ends {line!r}"
        else:
            assert not any(ln.strip() and not ln.strip().startswith("#") for ln in lines[i + 1:]), f"{target}: {text!r}"
    assert seen == list(WHERE), f"{target}: comments missing or out of order: {seen}"


def test_comments_do_not_change_the_code():
    """Comments are carried, not compiled: the cell without them gives the same program on every target."""
    bare = "\n".join(re.sub(r"\s*#.*$", "", ln) for ln in CELL.splitlines())
    for target in ALL:
        assert ast.dump(ast.parse(target_code(CELL, target))) == ast.dump(ast.parse(target_code(bare, target))), target


def source_comments(text: str) -> list[str]:
    """The comments of a code cell, found by Python's own tokenizer (the DSL's lexical rules are Python's)."""
    toks = tokenize.generate_tokens(io.StringIO(text + "\n").readline)
    return [t.string.lstrip("#").strip() for t in toks if t.type == tokenize.COMMENT]


def chapter_comments(path: Path, target: str) -> list[str]:
    cells, _, _ = split_chapter(path.read_text(encoding="utf-8"), str(path), set(ALL))
    return [c for cell in cells if cell.kind == "code" and (cell.only is None or target in cell.only)
            for c in source_comments(cell.text)]


def notebook_comments(path: Path) -> list[str]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for cell in cells if cell["cell_type"] == "code" for c in source_comments("".join(cell["source"]))]


CHAPTERS = sorted(p for p in (ROOT / "sources").rglob("*.md"))


def test_the_chapters_have_comments():
    assert sum(len(chapter_comments(p, "pytorch")) for p in CHAPTERS) >= 20


@pytest.mark.parametrize("target", ALL)
def test_every_chapter_comment_is_in_every_target_notebook(target):
    missing = {}
    for path in CHAPTERS:
        want = chapter_comments(path, target)
        nb = ROOT / "generated" / target / path.relative_to(ROOT / "sources").with_suffix(".ipynb")
        if not want or not nb.exists():
            continue
        have = notebook_comments(nb)
        lost = [c for c in want if c not in have or have.remove(c)]
        if lost:
            missing[str(path.relative_to(ROOT))] = lost
    assert not missing, f"{target}: comments lost: {missing}"
