"""Tuples, unpacking, loops over values, functions as values and strings (issue 11): every rejection is a
compile error with its location, caret, expectation and hint (the whole message is compared, as in
tests/test_errors.py), and top-level code using them prints the same values on every target."""
from __future__ import annotations

import pytest
from helpers import SHARED_CACHE

from test_errors import assert_error
from test_soundness import agree




# (id, source of the cell, the full rendered message); the first line of a source is line 4 of ch.md
CASES = [
    ('unpack_arity', 'def mm(x: f32[n]) -> tuple[f32[], f32[]]:\n    return x.min(), x.max()\n\na, b, c = mm(arange(3.0))\n', '''\
ch.md:7:11: error: cannot unpack a tuple of 2 values into 3 names
    a, b, c = mm(arange(3.0))
              ^^
  expected: a tuple of 3 values (the left side has 3 names)
  hint: write 2 names, or index the tuple (`t[0]`)
'''),
    ('unpack_not_tuple', 'a, b = arange(3.0)\n', '''\
ch.md:4:8: error: cannot unpack a float32[3]
    a, b = arange(3.0)
           ^^^^^^
  expected: a tuple of 2 values (the left side has 2 names)
  hint: unpack a tuple, e.g. the result of a function that ends with `return a, b`
'''),
    ('unpack_list', 'xs = []\nxs.append(ones((2,)))\na, b = xs\n', '''\
ch.md:6:8: error: cannot unpack a list built with `append`: its length is known only when it runs
    a, b = xs
           ^^
  expected: a tuple of 2 values
  hint: index the list, or return a tuple (`return a, b`)
'''),
    ('unpack_target', 'X = zeros((2,))\nX[0], b = 1, 2\n', '''\
ch.md:5:1: error: an unpacking assigns to names only
    X[0], b = 1, 2
    ^^^^
  expected: a, b = ...
  hint: unpack into names, then assign into the tensor on its own line
'''),
    ('unpack_dup', 'a, a = 1, 2\n', '''\
ch.md:4:4: error: `a` appears twice on the left of an unpacking
    a, a = 1, 2
       ^
  expected: distinct names
  hint: use `_unused` or another name for a value you do not need
'''),
    ('result_mismatch', 'def f(x: f32[n]) -> tuple[f32[n], i64[]]:\n    return x, x\n', '''\
ch.md:5:12: error: `f` returns tuple[float32[n], float32[n]], but its signature says tuple[float32[n], int64[]]
        return x, x
               ^^^^
  expected: tuple[float32[n], int64[]]
  hint: fix the return annotation or the computation
'''),
    ('result_arity', 'def f(x: f32[n]) -> tuple[f32[n], f32[n]]:\n    return x\n', '''\
ch.md:5:12: error: `f` returns float32[n], but its signature says tuple[float32[n], float32[n]]
        return x
               ^
  expected: tuple[float32[n], float32[n]]
  hint: fix the return annotation or the computation
'''),
    ('bare_tuple', 'def f(x: f32[n], arch: tuple):\n    return x\n', '''\
ch.md:4:24: error: a bare `tuple` annotation needs a tuple default
    def f(x: f32[n], arch: tuple):
                           ^^^^^
  expected: arch: tuple = ((1, 64), (2, 128))
  hint: give the parameter a tuple default, or spell its items: tuple[f32[n], int]
'''),
    ('tuple_default_mismatch', 'def f(x: f32[n], arch: tuple[int, int] = (1, 2.5)):\n    return x\n', '''\
ch.md:4:42: error: the default tuple[int, float] does not match the annotation tuple[int, int]
    def f(x: f32[n], arch: tuple[int, int] = (1, 2.5)):
                                             ^^^^^^^^
  expected: tuple[int, int]
  hint: change the default or the annotation
'''),
    ('loop_mixed', 'for x in (1, ones((2,))):\n    print(x)\n', '''\
ch.md:4:10: error: the items of this tuple have different types (int, float32[2])
    for x in (1, ones((2,))):
             ^^^^^^^^^^^^^^^
  expected: items of one type (tensors of one dtype and rank, numbers, tuples of one length)
  hint: loop over `range(len(...))` and index, or split the loop in two
'''),
    ('loop_tensor', 'for x in ones((2,)):\n    print(x)\n', '''\
ch.md:4:10: error: a `for` loop cannot run over a float32[2]
    for x in ones((2,)):
             ^^^^
  expected: range(...), a tuple or list, enumerate(xs) or zip(xs, ys)
  hint: to visit the rows of a tensor, loop over `range(X.shape[0])` and index `X[i]`
'''),
    ('loop_unpack_arity', 'for a, b in ((1, 2, 3), (4, 5, 6)):\n    print(a)\n', '''\
ch.md:4:13: error: cannot unpack a tuple of 3 values into 2 loop variables
    for a, b in ((1, 2, 3), (4, 5, 6)):
                ^^^^^^^^^^^^^^^^^^^^^^
  expected: a tuple of 2 values (the loop unpacks 2 loop variables)
  hint: write 3 loop variables, or index the tuple (`t[0]`)
'''),
    ('range_two_vars', 'for i, j in range(3):\n    print(i)\n', '''\
ch.md:4:1: error: a loop over `range(...)` takes one loop variable
    for i, j in range(3):
    ^
  expected: for i in range(n):
  hint: unpack inside the loop, or loop over `enumerate(xs)` / `zip(xs, ys)`
'''),
    ('enumerate_outside', 'e = enumerate((1, 2))\n', '''\
ch.md:4:5: error: `enumerate` is only allowed as the iterable of a `for` loop
    e = enumerate((1, 2))
        ^^^^^^^^^
  expected: for i, x in enumerate(xs):
  hint: loop over it, and build a tuple of the results if you need one
'''),
    ('str_lt', 'm = "a"\nif m < "b":\n    print(m)\n', '''\
ch.md:5:6: error: strings compare only with `==` and `!=`
    if m < "b":
         ^
  expected: mode == "sum"
  hint: compare two strings for equality, e.g. `if mode == "sum":`
'''),
    ('str_vs_int', 'm = "a"\nif m == 1:\n    print(m)\n', '''\
ch.md:5:9: error: comparing a string with an int
    if m == 1:
            ^
  expected: a string on both sides
  hint: a string equals only a string; compare it with a string literal such as "sum"
'''),
    ('lambda_arity', 'f = lambda x, y: x + y\nprint(f(1))\n', '''\
ch.md:5:7: error: this lambda takes 2 arguments (x, y), got 1
    print(f(1))
          ^
  expected: 2 arguments
  hint: see the lambda at line 4
'''),
    ('apply_bad', 'def apply(f, x):\n    return f(x)\n\ndef two(a: f32[n], b: f32[n]) -> f32[n]:\n    return a + b\n\ny = apply(two, arange(3.0))\n', '''\
ch.md:5:12: error: `two` takes 2 arguments (a, b), got 1 (in `apply` called with f=two at line 10)
        return f(x)
               ^
  expected: two(a, b)
  hint: missing a value for `b`
'''),
    ('apply_shape', 'def apply(f, x):\n    return f(x)\n\ny = apply(lambda v: v @ v.T @ ones((5,)), ones((2, 3)))\n', '''\
ch.md:7:29: error: shape mismatch in matrix product: [2, 2] @ [5] (in `apply` called with f=a lambda at line 7)
    y = apply(lambda v: v @ v.T @ ones((5,)), ones((2, 3)))
                                ^
  expected: the last dimension of the left operand (2) to equal the only dimension of the right (5)
  hint: transpose one operand (`.T`) or check which axis holds the features
'''),
    ('grad_tuple', 'def mm(x: f32[n]) -> tuple[f32[], f32[]]:\n    return x.min(), x.max()\n\nx = arange(3.0)\ng = grad(mm)(x)\n', '''\
ch.md:8:5: error: `grad` needs one number, got a tuple (tuple[float32[], float32[]])
    g = grad(mm)(x)
        ^^^^
  expected: a rank-0 float tensor
  hint: differentiate one item of the tuple (`t[0]`); for `grad(f)`, write a function that returns that item, e.g. `return f(x)[0]`
'''),
    ('tensor_dim_nested', 'def f(x: f32[f32[n]]):\n    return x\n', '''\
ch.md:4:14: error: a dimension of a tensor type is a name or an int, got `f32[...]`
    def f(x: f32[f32[n]]):
                 ^^^
  expected: e.g. f32[n, 3]
  hint: a tuple of types is written tuple[f32[n], i64[]]
'''),
    ('builtin_value', 'def apply(f, x):\n    return f(x)\n\ny = apply(relu, ones((2,)))\n', '''\
ch.md:7:11: error: `relu` is a function; call it
    y = apply(relu, ones((2,)))
              ^^^^
  expected: relu(...)
  hint: a built-in is called, not passed around; to pass it as a value, wrap it: `lambda x: relu(x)`
'''),
    ("lambda_draws", "f = lambda s: normal((s, 2))\n", '''\
ch.md:4:15: error: `normal` inside a lambda
    f = lambda s: normal((s, 2))
                  ^^^^^^
  expected: a lambda without random draws
  hint: draw the random values outside and pass them in (JAX threads an explicit key)
'''),
    ('kwargs_fvalue', 'def apply(f, x):\n    return f(x=x)\n\ny = apply(lambda x: x, ones((2,)))\n', '''\
ch.md:5:14: error: a call through a function value takes positional arguments only
        return f(x=x)
                 ^
  expected: f(x, ...)
  hint: pass the arguments by position
'''),
    ('loop_over_unlike_functions', 'def apply(f, x: f32[n]):\n    return f(x)\n\nfor g in (lambda v: v * 2, lambda v: v.sum()):\n    print(apply(g, ones((3,))))\n', '''\
ch.md:5:12: error: the functions this value takes give different kinds of values here: the lambda at line 7 gives float32[n], the lambda at line 7 gives float32[] (in `apply` called with f=function at line 8)
        return f(x)
               ^
  expected: functions that return values of one dtype and rank for these arguments
  hint: loop over functions that compute the same kind of value, or call each one by its name
'''),
]


@pytest.mark.parametrize("src,expected", [(s, e) for _, s, e in CASES], ids=[c[0] for c in CASES])
def test_error_message(src: str, expected: str) -> None:
    assert_error(src, expected)


def test_a_shape_of_untyped_values_is_no_error() -> None:
    """`zeros((s, 2))` with `s` an unannotated parameter (or a lambda's) has an unknown shape, not a wrong one."""
    from d2lc.build.checked import compile_chapter
    from test_errors import TARGETS, chapter
    compile_chapter(chapter("def f(s):\n    return zeros((s, 2))\n\ng = lambda s: ones((s,))\nprint(f(3), g(2))\n"),
                    "ch.md", TARGETS)


def test_lambda_stays_a_name_where_no_parameter_follows() -> None:
    """`lambda` is the keyword only before a parameter name: `lambda = 0.5` (renamed `lambda_`) still works."""
    from d2lc.build.checked import compile_chapter
    from test_errors import TARGETS, chapter
    module = compile_chapter(chapter("lambda = 0.5\nf = lambda x: x * lambda\nprint(f(2.0))\n"), "ch.md", TARGETS)
    assert module.renamed == {"lambda": "lambda_"}
    compile_chapter(chapter("lambda = True\nflag = False\nif lambda and flag or not lambda:\n    print(1)\n"
                            "f = lambda andy: andy + 1\nprint(f(1))\n"), "ch.md", TARGETS)
    assert_error("y = a b\n", '''\
ch.md:4:7: error: unexpected `b`
    y = a b
          ^
  expected: an operator, `,`, end of line
  hint: check for a missing operator, comma or bracket just before this point
''')


TOP_LEVEL = '''
def min_max(x: f32[n]) -> tuple[f32[], f32[]]:
    return x.min(), x.max()

lo, hi = min_max(tensor([3.0, -1.0, 2.0]))
a, b = 1, 2
a, b = b, a
print(lo.item(), hi.item(), a, b)
arch = ((1, 64), (2, 128))
total = 0
for num_convs, channels in arch:
    total += num_convs * channels
for i, x in enumerate((10, 20)):
    total += i * x
for p, q in zip((1, 2), (3.0, 4.0)):
    total += p * q
print(total, len(arch))
X = arange(3.0)
sq = lambda v: v * v
print(float(sq(X).sum()))
mode = "sum"
if mode == "sum":
    print("summing")
elif mode != "max":
    print("other")
w, c = ones((2,)), zeros((2,))
y = (w * 2 + c).sum()
g = grad(y, w)
print(float(g.sum()))
P, Q = ones((2,)), ones((2,))
P[0] = 5.0
print(float(P.sum()), float(Q.sum()))
R = ones((2,))
S, T = R, R
S[0] = 3.0
print(float(R.sum()), float(S.sum()), float(T.sum()))
xv = arange(3.0)
yv = xv
for s in (1.0, 2.0):
    yv = yv * s
a2, b2 = yv, yv * 3
print(float(grad((a2 + b2).sum(), xv).sum()))
'''


def test_top_level_unpacking_loops_lambdas_and_strings_agree_on_every_target(tmp_path) -> None:
    """Unpacking a function's tuple, a swap, loops over a tuple of pairs / enumerate / zip, a lambda, a string
    branch, a grad of an unpacked variable and one through a loop over a tuple and an unpacking (JAX replays
    them in its `jax.grad` function), and value semantics through `S, T = R, R` (writing S leaves R, T)."""
    agree(TOP_LEVEL, tmp_path, '''
        -1.0 3.0 2 1
        351.0 2
        5.0
        summing
        4.0
        6.0 2.0
        2.0 4.0 2.0
        24.0
    ''')


def test_a_model_with_tuple_and_string_hyperparameters_agrees():
    """tests/corpus/tuples.md's `Staged`: `for k, s in arch` over a tuple hyperparameter, a branch on a string one
    (JAX declares the flax field `arch: tuple`); forward, gradients and optimizer steps compared on every target."""
    from pathlib import Path
    from d2lc.emit.backend import get_backend, target_names
    from d2lc.harness.models import model_cases, run_model_cases
    from d2lc.harness.session import Session
    names = [n for n in ("pytorch", "tensorflow", "jax", "mxnet", "paddle") if n in target_names()]
    backends = [get_backend(n) for n in names]
    cases, _ = model_cases([Path(__file__).parent / "corpus" / "tuples.md"])
    assert [c.name for c in cases] == ["Staged"]
    with Session(backends, call_timeout=300, cache_dir=SHARED_CACHE) as session:
        session.start()
        results = run_model_cases(session, cases, {b.name: b for b in backends})
    bad = [f"{r.case} {r.check} | {r.target} | {r.status} {r.detail}" for r in results if r.status in ("FAIL", "error")]
    assert not bad, "\n".join(bad)
    compared = {r.target for r in results if r.status == "pass" and r.detail != "reference"}
    assert compared == (set(names) - {"pytorch"}) & set(session.available())


def test_string_results_are_compared_by_equality():
    from d2lc.harness.compare import compare_values
    assert compare_values(("sum", 1.0), ("sum", 1.0)).ok
    bad = compare_values(("mean", 1.0), ("sum", 1.0))
    assert not bad.ok and "got 'mean', the reference gave 'sum' (output [0])" in bad.message


PLANTED = '''# Planted tuple bug
```d2l
def min_max(x: f32[n]) -> tuple[f32[], f32[]]:
    return x.min(), x.max()

def spread(x: f32[n]) -> f32[]:
    lo, hi = min_max(x)
    return hi - lo

def scaled(x: f32[n]) -> f32[n]:
    return x * 2
```
'''


def test_a_target_that_swaps_the_items_of_a_returned_tuple_is_caught(tmp_path):
    """A PyTorch twin whose emitter writes `return b, a` for `return a, b`: the tuple function fails item by item, and
    so does the function that unpacks it; the honest rows stay green."""
    import libcst as cst

    from d2lc.emit.backend import get_backend
    from d2lc.harness.runner import FAIL, PASS, Runner
    torch_backend = pytest.importorskip("d2lc_targets.pytorch").backend

    class Swapping(torch_backend.emitter):
        def bare(self, code):
            code = super().bare(code)
            if isinstance(code, cst.Tuple) and len(code.elements) == 2:
                return code.with_changes(elements=list(reversed(code.elements)))
            return code

    path = tmp_path / "planted.md"
    path.write_text(PLANTED, encoding="utf-8")
    twin = torch_backend.derive(name="pytorch-swap", emitter=Swapping)
    result = Runner([get_backend("pytorch"), twin], reference="pytorch", examples=6, seed=3,
                    reports_dir=tmp_path / "reports", cache_dir=None).run([path])
    statuses = {r.label: r.cells["pytorch-swap"].status for r in result.rows}
    assert statuses["min_max"] == FAIL and statuses["spread"] == FAIL and statuses["spread d/dx"] == FAIL
    assert statuses["scaled"] == PASS and statuses["scaled d/dx"] == PASS
    assert {r.cells["pytorch"].status for r in result.rows} == {PASS}


def test_a_loop_over_functions_passed_to_a_function_is_typed_by_each_and_agrees(tmp_path) -> None:
    """`for kernel in (gaussian, boxcar): nadaraya_watson(..., kernel)` typed the body with an unknown kernel
    result: PyTorch's emitter raised an internal error, and a later call with a lambda was refused as "other
    dtypes or ranks". Each function the loop variable takes now types the call through it."""
    agree("""
        def gaussian(d):
            return exp(-d ** 2 / 2)
        def boxcar(d):
            return where(abs(d) < 1.0, 1.0, 0.0)
        def weights(x_train: f32[n], x_val: f32[m], kernel) -> f32[m, n]:
            k = kernel(x_val[:, None] - x_train[None, :])
            return k / k.sum(axis=1, keepdims=True)
        def nadaraya_watson(x_train: f32[n], y_train: f32[n], x_val: f32[m], kernel) -> f32[m]:
            return weights(x_train, x_val, kernel) @ y_train
        x = arange(0.0, 2.0, 0.5)
        for kernel in (gaussian, boxcar):
            print(float(floor(nadaraya_watson(x, x * x, x + 0.25, kernel).sum() * 1000)))
        print(float(floor(nadaraya_watson(x, x * x, x, lambda d: exp(-d ** 2)).sum() * 1000)))
    """, tmp_path, """
        3818.0
        4083.0
        3382.0
    """)  # NumPy: floor(1000 * sum of the Nadaraya-Watson estimates) for each kernel

