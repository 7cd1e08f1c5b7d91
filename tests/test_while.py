"""`while` loops (issue 11) at the top level, in functions and in a model's forward: the condition is a bool or a
rank-0 bool tensor, read as an `if` reads one; every rejection is a compile error compared whole, and the loops
compute the same values on every target (a gradient through one too)."""
from __future__ import annotations

import pytest

from helpers import run_on_every_target
from test_errors import assert_error



# (id, source of the cell, the full rendered message); the first line of a source is line 4 of ch.md
CASES = [
    ('tensor_condition', 'X = ones((3,))\nwhile X > 1:\n    X = X / 2\n', '''\
ch.md:5:9: error: a `while` condition must be a single truth value, got a bool[3] tensor
    while X > 1:
            ^
  expected: a bool or a rank-0 bool tensor
  hint: compare one value, e.g. `X.abs().sum() > 1`
'''),
    ('float_condition', 'X = ones((3,))\nwhile X.sum():\n    X = X / 2\n', '''\
ch.md:5:9: error: a `while` condition must be a single truth value, got a float32[] tensor
    while X.sum():
            ^^^
  expected: a bool or a rank-0 bool tensor
  hint: compare one value, e.g. `X.abs().sum() > 1`
'''),
    ('model_body', 'model M():\n    out = Linear(2)\n    while True:\n        pass\n    def forward(X: f32[n, 3]):\n        return out(X)\n', '''\
ch.md:6:5: error: a model body holds member assignments, layer lists and `def forward`
        while True:
        ^
  expected: name = Layer(...), name = param(shape, init=...), blocks = [] with `for` loops of blocks.append(...), or def forward(...)
'''),
]


@pytest.mark.parametrize("src,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_while_errors(src: str, expected: str) -> None:
    assert_error(src, expected)


TOP_LEVEL = '''
def halve(X: f32[n]) -> f32[n]:
    while X.abs().sum() > 1:
        X = X / 2
    return X

model Shrink():
    linear = Linear(4)
    def forward(X: f32[n, 4]):
        X = linear(X)
        while X.abs().sum() > 1:
            X = X / 2
        return X

X = arange(4.0)
while X.abs().sum() > 1:
    X = X / 2
print(float(X.sum() * 1024))
print(float(halve(arange(3.0)).sum() * 1024))
k, total = 0, 0
while k < 5 and total < 7:
    k = k + 1
    total = total + k
print(k, total)
x = arange(3.0)
y = x * 3
while y.sum() > 1:
    y = y / 2
print(float(grad(y.sum(), x).sum() * 1024))
net = Shrink()
Z = net(ones((2, 4)))
print(float(abs(Z).sum()) <= 1.0, float(abs(Z).sum()) > 0.5)
'''


def test_while_loops_agree_on_every_target(tmp_path) -> None:
    """arange(4) halved until its sum is at most 1 (6 -> 0.75: 3 passes), the same in a function (3 -> 0.75: 2
    passes), a loop on Python ints with `and`, d/dx of a halving loop (sum 9 -> 0.5625: 4 passes, 3 / 16 per
    element), and a forward whose output is halved until its sum is at most 1 (so more than a half)."""
    runs = run_on_every_target(TOP_LEVEL, tmp_path)
    want = "768.0\n768.0\n4 10\n576.0\nTrue True\n"
    wrong = {t: run.error or run.stdout for t, run in runs.items() if run.error or run.stdout != want}
    assert not wrong, f"expected every target to print\n{want}got: {wrong}"
