"""`break` and `continue` (docs/dsl.md, "Statements"): in `for` and `while` loops at the top level and in functions,
emitted as Python's own on every target and computing what Python computes (an oracle below, shown to catch a
planted bug); outside a loop, in a `def` nested in a loop, or in a model they are compile errors."""
from __future__ import annotations

import pytest

from helpers import run_on_every_target
from test_errors import assert_error

PROGRAM = '''\
def first_long(words, n):
    found = ""
    for w in words:
        if len(w) > n:
            found = w
            break
    return found

kept = []
for i, line in enumerate("a b\\nc d\\n\\ne f\\ng h\\ni j".split("\\n")):
    if i >= 4:
        break
    if len(line) == 0:
        continue
    kept.append(line)
total = 0
k = 0
while True:
    k += 1
    if k % 2 == 0:
        continue
    total += k
    if k > 6:
        break
print(kept, total, k, first_long(["ab", "abcd", "abcde"], 2))
'''


def oracle() -> str:
    lines = "a b\nc d\n\ne f\ng h\ni j".split("\n")
    kept = [line for line in lines[:4] if line]
    odd = [k for k in range(1, 8) if k % 2]
    return f"{kept} {sum(odd)} 7 abcd"


def test_jumps_compute_what_python_computes_on_every_target(tmp_path):
    for target, run in run_on_every_target(PROGRAM, tmp_path).items():
        assert run.error == "", f"{target}: {run.error}"
        assert run.stdout.strip() == oracle(), f"{target}: {run.stdout}"


def test_the_oracle_catches_a_planted_bug(tmp_path, monkeypatch):
    """Plant: `continue` emitted as `pass` (the empty line is kept): every target's output differs."""
    import libcst as cst

    from d2lc.core import ir
    from d2lc.emit import statements
    original = statements.Statements.stmt

    def planted(self, s):
        if isinstance(s, ir.Jump) and s.kind == "continue":
            return [cst.SimpleStatementLine([cst.Pass()])]
        return original(self, s)
    monkeypatch.setattr(statements.Statements, "stmt", planted)
    runs = run_on_every_target(PROGRAM, tmp_path)
    assert runs and all(run.stdout.strip() != oracle() for run in runs.values())


ERRORS = [
    ("break_outside_a_loop", '''\
x = 1
break
''', '''\
ch.md:5:1: error: `break` outside a loop
    break
    ^^^^^
  expected: `break` inside a `for` or `while` body
  hint: to stop early, put the statements in a loop, or use `if`
'''),
    ("continue_in_a_def_in_a_loop", '''\
for i in range(2):
    def f(x):
        continue
''', '''\
ch.md:6:9: error: `continue` outside a loop
            continue
            ^^^^^^^^
  expected: `continue` inside a `for` or `while` body
  hint: a `def` inside a loop has loops of its own; return from it instead
'''),
    ("break_in_a_model", '''\
model Net(n: int = 2):
    blocks = []
    for i in range(n):
        blocks.append(Linear(4))
    def forward(X: f32[b, 4]):
        for blk in blocks:
            X = blk(X)
            break
        return X
''', '''\
ch.md:11:13: error: `break` in a model
                break
                ^^^^^
  expected: a loop of the chapter's top level or of a `def`
  hint: a model's forward runs every layer of its loops; select layers with a slice of the list instead
'''),
]


@pytest.mark.parametrize("src, expected", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_error_message(src, expected):
    assert_error(src, expected)
