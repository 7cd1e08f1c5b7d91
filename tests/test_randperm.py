"""`randperm(n)` (issue 11): a random order of 0..n-1 on every target, int64, with its size from `n`; a non-int count
is a compile error compared whole."""
from __future__ import annotations


from helpers import run_on_every_target
from test_errors import assert_error



def test_randperm_of_a_float_is_an_error() -> None:
    assert_error("p = randperm(2.5)\n", '''\
ch.md:4:5: error: `randperm` needs an int count, got n=float
    p = randperm(2.5)
        ^^^^^^^^
  expected: an int: randperm(n)
  hint: it permutes 0, 1, ..., n - 1; use `int(...)` on a tensor
''')


def test_randperm_is_a_permutation_on_every_target(tmp_path) -> None:
    """Sorted, each draw is 0..n-1 (a draw with a repeat or a gap fails), for a literal and a name; its sum of
    squares is that of 0..5."""
    runs = run_on_every_target('''
seed(3)
p = randperm(6)
print(p.shape[0], int(p.sum()), int(abs(sort(p) - arange(6)).sum()))
k = 9
q = randperm(k)
print(int(abs(sort(q) - arange(k)).sum()), int(q.max()))
print(int((p * p).sum()), int((p * arange(6)).sum()) <= 55)
''', tmp_path)
    want = "6 15 0\n0 8\n55 True\n"
    wrong = {t: run.error or run.stdout for t, run in runs.items() if run.error or run.stdout != want}
    assert not wrong, f"expected every target to print\n{want}got: {wrong}"
