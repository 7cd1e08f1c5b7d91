"""Error messages of the sorting, selection and masking ops (and of a negative slice step, which points at `flip`).

Same style as tests/test_errors.py: the whole rendered message is compared; the first line of each
source is line 4 of `ch.md`.
"""
from __future__ import annotations

import pytest

from d2lc.build.checked import compile_chapter
from d2lc.core.diagnostics import CompileError

TARGETS = {"pytorch", "tensorflow", "jax", "mxnet", "paddle"}


def assert_error(src: str, expected: str) -> None:
    """Compile `src` as the only cell of a chapter and compare every rendered diagnostic exactly."""
    text = "# Test\n\n```d2l\n" + src + "```\n"
    with pytest.raises(CompileError) as info:
        compile_chapter(text, "ch.md", TARGETS)
    got = "\n\n".join(d.render(text.splitlines()) for d in info.value.diagnostics)
    assert got == expected.rstrip("\n"), f"\n--- got ---\n{got}\n--- expected ---\n{expected}"

CASES = [
    ('sort_axis_out_of_range', 'def f(X: f32[n, k]) -> f32[n, k]:\n    return sort(X, axis=2)\n', '''\
ch.md:5:12: error: axis 2 is out of range for a tensor of rank 2
        return sort(X, axis=2)
               ^^^^
  expected: an axis in [-2, 1]
  hint: axes count from 0; negative axes count from the end (-1 is the last)
'''),
    ('sort_tuple_axis', 'def f(X: f32[n, k]) -> f32[n, k]:\n    return X.argsort(axis=(0, 1))\n', '''\
ch.md:5:14: error: `argsort` takes a single axis, got (0, 1)
        return X.argsort(axis=(0, 1))
                 ^^^^^^^
  expected: one int axis such as 0 or -1
  hint: only reductions such as `sum` and `flip` accept a tuple of axes
'''),
    ('sort_scalar', 'x = tensor(1.0)\nprint(sort(x))\n', '''\
ch.md:5:7: error: `sort` of a rank-0 tensor (one number)
    print(sort(x))
          ^^^^
  expected: a tensor with at least one axis
  hint: there is nothing to order or select in one number; reshape it, e.g. `x.reshape(1)`
'''),
    ('sort_variable_axis', 'def f(X: f32[n, k], a: int) -> f32[n, k]:\n    return sort(X, axis=a)\n', '''\
ch.md:5:25: error: the axis of `sort` must be a constant int
        return sort(X, axis=a)
                            ^
  expected: an int literal such as 0 or -1
  hint: axes are fixed when the chapter compiles; write the number itself rather than a variable
'''),
    ('topk_too_many', 'X = zeros((2, 3))\nprint(topk_values(X, 4))\n', '''\
ch.md:5:7: error: `topk_values` of k=4 elements along axis 1 of size 3
    print(topk_values(X, 4))
          ^^^^^^^^^^^
  expected: k of at most 3
  hint: take at most 3 elements, or use `sort` for all of them
'''),
    ('topk_variable_k', 'def f(X: f32[n, 5], k: int) -> f32[n, 5]:\n    return topk_values(X, k)\n', '''\
ch.md:5:12: error: `k` of `topk_values` must be a constant int
        return topk_values(X, k)
               ^^^^^^^^^^^
  expected: an int literal such as 2
  hint: the result's shape depends on `k`, so it is fixed when the chapter compiles
'''),
    ('topk_zero', 'X = zeros((2, 3))\nprint(topk_indices(X, 0, axis=0))\n', '''\
ch.md:5:7: error: `k` of `topk_indices` is 0
    print(topk_indices(X, 0, axis=0))
          ^^^^^^^^^^^^
  expected: an int of at least 1
  hint: `k` counts elements; use 1 or more
'''),
    ('take_float_indices', 'X = zeros((2, 3))\nprint(take_along_axis(X, X, axis=1))\n', '''\
ch.md:5:7: error: the indices of `take_along_axis` must be an int tensor, got float32[2, 3]
    print(take_along_axis(X, X, axis=1))
          ^^^^^^^^^^^^^^^
  expected: an int64 tensor of positions
  hint: positions are ints, e.g. from `argsort(...)`
'''),
    ('take_rank', 'X = zeros((2, 3))\nprint(take_along_axis(X, tensor([0, 1]), axis=1))\n', '''\
ch.md:5:7: error: `take_along_axis` of a rank-2 tensor with rank-1 indices
    print(take_along_axis(X, tensor([0, 1]), axis=1))
          ^^^^^^^^^^^^^^^
  expected: indices of rank 2
  hint: add axes of size 1 with `unsqueeze` or `[:, None]`
'''),
    ('take_sizes', 'X = zeros((2, 3))\nprint(take_along_axis(X, zeros((3, 1), dtype=int64), axis=1))\n', '''\
ch.md:5:7: error: `take_along_axis` along axis 1: shapes [2, 3] and [3, 1] differ in axis 0
    print(take_along_axis(X, zeros((3, 1), dtype=int64), axis=1))
          ^^^^^^^^^^^^^^^
  expected: equal sizes in every axis but 1
  hint: the indices pick along one axis; every other axis must match the tensor's
'''),
    ('one_hot_float', 'print(one_hot(tensor([0.0, 1.0]), 3))\n', '''\
ch.md:4:7: error: `one_hot` of float32[2]
    print(one_hot(tensor([0.0, 1.0]), 3))
          ^^^^^^^
  expected: an int tensor of class indices
  hint: cast class labels first, e.g. `y.astype(int64)`
'''),
    ('one_hot_classes', 'def f(y: i64[n], c: int) -> f32[n, 3]:\n    return one_hot(y, c)\n', '''\
ch.md:5:12: error: `num_classes` of `one_hot` must be a constant int
        return one_hot(y, c)
               ^^^^^^^
  expected: an int literal such as 2
  hint: the result's shape depends on `num_classes`, so it is fixed when the chapter compiles
'''),
    ('flip_twice', 'X = zeros((2, 3))\nprint(flip(X, axis=(1, -1)))\n', '''\
ch.md:5:7: error: `flip` names axis (1, -1) more than once
    print(flip(X, axis=(1, -1)))
          ^^^^
  expected: each axis at most once
  hint: flipping an axis twice leaves it as it was; name it once
'''),
    ('repeat_negative', 'X = zeros((2, 3))\nprint(repeat(X, -1, axis=0))\n', '''\
ch.md:5:7: error: `repeats` of `repeat` is -1
    print(repeat(X, -1, axis=0))
          ^^^^^^
  expected: an int of at least 0
  hint: `repeats` counts elements; use 0 or more
'''),
    ('tile_counts', 'X = zeros((2, 3))\nprint(tile(X, (2,)))\n', '''\
ch.md:5:7: error: `tile` of a rank-2 tensor with 1 repetition count
    print(tile(X, (2,)))
          ^^^^
  expected: 2 counts, one per axis
  hint: give a count for every axis; 1 keeps an axis as it is
'''),
    ('fill_not_bool', 'X = zeros((2, 3))\nprint(masked_fill(X, X, 1.0))\n', '''\
ch.md:5:7: error: the mask of `masked_fill` must be a bool tensor, got float32[2, 3]
    print(masked_fill(X, X, 1.0))
          ^^^^^^^^^^^
  expected: a bool tensor
  hint: compare first, e.g. `masked_fill(X, X < 0, 0.0)`
'''),
    ('fill_shape', 'X = zeros((2, 3))\nprint(masked_fill(X, zeros((2, 1, 3)) > 0, 1.0))\n', '''\
ch.md:5:7: error: a mask of shape [2, 1, 3] for a tensor of shape [2, 3]
    print(masked_fill(X, zeros((2, 1, 3)) > 0, 1.0))
          ^^^^^^^^^^^
  expected: a mask that broadcasts to [2, 3]
  hint: the mask's trailing axes must match the tensor's (or be 1)
'''),
    ('fill_float_into_int', 'x = arange(6)\nprint(masked_fill(x, x > 2, 0.5))\n', '''\
ch.md:5:7: error: `masked_fill` of int64[6] with a float value
    print(masked_fill(x, x > 2, 0.5))
          ^^^^^^^^^^^
  expected: an int for int64 tensors
  hint: the result keeps the tensor's dtype; cast the tensor first, e.g. `X.astype(float32)`
'''),
    ('masked_softmax_lens', 'X = zeros((2, 3, 4))\nprint(masked_softmax(X, tensor([1, 2, 3])))\n', '''\
ch.md:5:7: error: valid lengths of shape [3] for scores of shape [2, 3, 4]
    print(masked_softmax(X, tensor([1, 2, 3])))
          ^^^^^^^^^^^^^^
  expected: lengths shaped like the leading axes of the scores, e.g. [2] or [2, 3]
  hint: one length per sequence (or per query): the positions along the last axis at or past it are masked
'''),
    ('masked_softmax_float_lens', 'X = zeros((2, 3, 4))\nprint(masked_softmax(X, tensor([1.0, 2.0])))\n', '''\
ch.md:5:7: error: the valid lengths of `masked_softmax` must be an int tensor, got float32[2]
    print(masked_softmax(X, tensor([1.0, 2.0])))
          ^^^^^^^^^^^^^^
  expected: an int64 tensor of lengths
  hint: lengths count positions; cast with `.astype(int64)`
'''),
    ('negative_step_with_bounds', 'X = zeros((2, 3))\nprint(X[2:0:-1])\n', '''\
ch.md:5:13: error: a negative slice step with bounds
    print(X[2:0:-1])
                ^
  expected: `::-k`: the whole axis, reversed
  hint: flip the axis first, then slice it: `flip(X, axis=0)[1:3]`
'''),
    ('zero_step', 'X = zeros((2, 3))\nprint(X[::0])\n', '''\
ch.md:5:11: error: a slice step of 0
    print(X[::0])
              ^
  expected: a non-zero step
  hint: a step of 1 takes every element; -1 reverses the axis
'''),
    ('assign_through_negative_step', 'X = zeros((2, 3))\nX[:, ::-1] = 1.0\n', '''\
ch.md:5:8: error: element assignment through a negative slice step
    X[:, ::-1] = 1.0
           ^
  expected: positive steps
  hint: flip the value instead: `X[::-1] = V` is `X[:] = flip(V, axis=0)`
'''),
]


@pytest.mark.parametrize("src, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_selection_error_message(src: str, expected: str) -> None:
    assert_error(src, expected)


CHANNELS_LAST = """\
# CL

```d2l
model Flat():
    conv = Conv2d(2, kernel=2)
    head = Sequential(Flatten(), Linear(2))
    def forward(X: f32[n, 1, 4, 4], lens: i64[n]):
        Y = conv(X)
        return head(repeat(Y, 2).reshape(Y.shape[0], -1) + masked_softmax(Y, lens).reshape(Y.shape[0], -1))
```
"""


@pytest.mark.parametrize("target", ["tensorflow", "jax"])
def test_channels_last_targets_compute_what_reads_a_rank_4_layout_on_its_nchw_view(target: str) -> None:
    """A rank-4 value inside a TF/JAX model is stored NHWC: a flattening `repeat` or a masked softmax against a
    lower-rank length would read the stored order, so both are computed on the NCHW view (they were refused;
    tests/test_soundness.py checks the values of such ops on every target)."""
    from d2lc.build.notebook import build_notebook
    from d2lc.emit.backend import get_backend
    module = compile_chapter(CHANNELS_LAST, "cl.md", TARGETS)
    code = build_notebook(module, get_backend(target))
    to_nchw = "tf.transpose(Y, perm=(0, 3, 1, 2))" if target == "tensorflow" else "Y.transpose((0, 3, 1, 2))"
    assert code.count(to_nchw) == 2, code
    for other in ("pytorch", "mxnet", "paddle"):
        build_notebook(module, get_backend(other))
