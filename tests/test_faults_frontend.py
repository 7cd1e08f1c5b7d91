"""Hostile input for the front end (issue 15): every case is a clear d2lc error or a correct compile.

Each case was an internal error, a silently wrong notebook or a slow path before its fix. Error cases
compare the WHOLE rendered message (location, source line, caret, expected, hint); accepted cases
check that every target's code parses as Python (`ast.parse`).
"""
from __future__ import annotations

import ast
import json

import pytest

from d2lc.backend import get_backend
from d2lc.diagnostics import CompileError
from d2lc.frontend import compile_chapter
from d2lc.notebook import build_notebook

FILE = "ch.md"
TARGETS = {"pytorch", "tensorflow", "jax", "mxnet", "paddle"}


def chapter(src: str) -> str:
    """`src` as the only code cell of a chapter; its first line is line 4."""
    return "# Test\n\n```d2l\n" + src.rstrip("\n") + "\n```\n"


def rendered(text: str) -> str:
    with pytest.raises(CompileError) as info:
        compile_chapter(text, FILE, TARGETS)
    lines = text.splitlines()
    return "\n\n".join(d.render(lines) for d in info.value.diagnostics)


def assert_error(text: str, expected: str) -> None:
    got = rendered(text)
    assert got == expected.rstrip("\n"), f"\n--- got ---\n{got}\n--- expected ---\n{expected}"


def code_of(text: str, target: str) -> str:
    """Every code cell a target emits for a chapter, joined (shell and magic lines dropped)."""
    nb = json.loads(build_notebook(compile_chapter(text, FILE, TARGETS), get_backend(target)))
    src = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    return "\n".join(line for line in src.splitlines() if not line.startswith(("%", "!")))


def assert_parses_everywhere(text: str) -> dict[str, str]:
    codes = {t: code_of(text, t) for t in sorted(TARGETS)}
    for target, code in codes.items():
        ast.parse(code, filename=f"<{target}>")
    return codes


# ---- 1. nesting depth ------------------------------------------------------------------------------
TOO_DEEP = '''\
ch.md:4:1: error: expression nested too deeply ({depth} levels)
    {line}
    ^
  expected: at most 100 levels of nested operands, calls or brackets (a chain a + b + c + ... counts one level per operator)
  hint: split the expression into several statements with intermediate variables
'''


@pytest.mark.parametrize("line, depth", [
    ("x = " + " + ".join(["1"] * 329), 329),  # RecursionError in every emitter
    ("y = " + "exp(" * 164 + "x" + ")" * 164, 165),  # lark VisitError (recursion in the tree transformer)
    ("y = " + "-" * 492 + "1", 493),  # lark VisitError
    ("y = x" + ".abs()" * 165, 166),  # RecursionError in every emitter
    ("X = tensor(" + "[" * 200 + "1.0" + "]" * 200 + ")", 202),  # emitted Python that does not parse
], ids=["sum329", "exp164", "neg492", "methods165", "literal200"])
def test_too_deep_expressions_are_an_error(line: str, depth: int) -> None:
    assert_error(chapter(line), TOO_DEEP.format(line=line, depth=depth))


def test_nesting_up_to_the_limit_compiles_for_every_target() -> None:
    lines = [
        "x = ones((3,))",
        "s = " + " + ".join(["1"] * 100),
        "e = " + "exp(" * 99 + "x" + ")" * 99,
        "n = " + "-" * 99 + "1",
        "m = x" + ".abs()" * 99,
        "t = tensor(" + "[" * 98 + "1.0" + "]" * 98 + ")",
        "p = " + "(" * 300 + "1" + ")" * 300,  # brackets alone add no level
    ]
    assert_parses_everywhere(chapter("\n".join(lines)))


def test_too_deep_blocks_are_an_error() -> None:
    body = "".join("    " * d + f"if x > {d}:\n" for d in range(41)) + "    " * 41 + "x = x + 1"
    text = chapter("x = 0\n" + body)
    assert_error(text, '''\
ch.md:45:161: error: blocks nested too deeply
                                                                                                                                                                    if x > 40:
                                                                                                                                                                    ^
  expected: at most 40 `def`, `model`, `for` or `if` blocks inside one another
  hint: move the inner blocks into a function defined with `def`
''')


def test_forty_nested_blocks_and_a_long_elif_chain_compile() -> None:
    ifs = "".join("    " * d + (f"if x > {d}:\n" if d % 2 else f"for i{d} in range(2):\n") for d in range(40))
    elifs = "if x == 0:\n    x = 1\n" + "".join(f"elif x == {d}:\n    x = {d}\n" for d in range(1, 80))
    assert_parses_everywhere(chapter("x = 0\n" + ifs + "    " * 40 + "x = x + 1\n" + elifs))
