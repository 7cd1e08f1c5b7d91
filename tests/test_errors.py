"""Error messages: each test feeds one kind of bad input and checks the WHOLE rendered message.

A rendered diagnostic is `file:line:col: error: message`, the source line, a caret line under the
offending text, `  expected: ...` and `  hint: ...`. Every line is compared, so a test fails if the
location, the caret, the wording, the expectation or the hint changes.

Inputs are wrapped in a chapter by `assert_error`: a `# Test` title, a blank line, then a ```d2l
fence, so the first line of `src` is line 4 of `ch.md`.
"""
from __future__ import annotations

import pytest

from d2lc.emit.backend import get_backend
from d2lc.core.diagnostics import CompileError
from d2lc.emit.base import EmitError
from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import build_notebook

FILE = "ch.md"
# A fixed target list, so the messages do not change as backends are installed.
TARGETS = {"pytorch", "tensorflow", "jax", "mxnet"}


def chapter(src: str) -> str:
    """`src` as the only code cell of a chapter; its first line is line 4."""
    if not src.endswith("\n"):
        src += "\n"
    return "# Test\n\n```d2l\n" + src + "```\n"


def rendered(text: str) -> str:
    """Every diagnostic of a chapter, rendered with its source and joined by blank lines."""
    with pytest.raises(CompileError) as info:
        compile_chapter(text, FILE, TARGETS)
    lines = text.splitlines()
    return "\n\n".join(d.render(lines) for d in info.value.diagnostics)


def assert_error(src: str, expected: str, *, whole_chapter: bool = False) -> None:
    """Compile `src` (wrapped in a chapter unless whole_chapter) and compare the rendered errors exactly."""
    got = rendered(src if whole_chapter else chapter(src))
    assert got == expected.rstrip("\n"), f"\n--- got ---\n{got}\n--- expected ---\n{expected}"


# (id, source of the cell, the full rendered message)
CASES = [
    ("unterminated_string", '''\
s = "abc
''', '''\
ch.md:4:5: error: unterminated string literal
    s = "abc
        ^
  expected: a closing " on the same line
  hint: add " at the end of the string
'''),
    ("unexpected_indent", '''\
x = 1
    y = 2
''', '''\
ch.md:5:1: error: unexpected indentation
        y = 2
    ^^^^
  expected: the same indentation as the line above
  hint: indent only the body of `def`, `for` and `if`
'''),
    ("missing_indented_block", '''\
def f(x):
return x
''', '''\
ch.md:5:1: error: expected an indented block
    return x
    ^
  expected: an indented block after the `:` above
  hint: indent the body by four spaces, or write `pass` for an empty one
'''),
    ("missing_block_at_end_of_cell", '''\
for i in range(3):
''', '''\
ch.md:4:19: error: expected an indented block
    for i in range(3):
                      ^
  expected: an indented block after the `:` above
  hint: indent the body by four spaces, or write `pass` for an empty one
'''),
    ("dedent_matches_no_block", '''\
if True:
        x = 1
    y = 2
''', '''\
ch.md:6:1: error: this line's indentation matches no enclosing block
        y = 2
    ^^^^
  expected: an indentation of 0 or 8 spaces, like a line above
  hint: line it up with the statements of the block it belongs to
'''),
    ("missing_colon", '''\
def f(x)
    return x
''', '''\
ch.md:4:9: error: missing `:`
    def f(x)
            ^
  expected: `:` at the end of the line
  hint: blocks open with a colon, as in Python
'''),
    ("missing_colon_mid_line", '''\
for i in range(3) x = 1
''', '''\
ch.md:4:19: error: missing `:`
    for i in range(3) x = 1
                      ^
  expected: `:`
  hint: blocks open with a colon, as in Python
'''),
    ("unclosed_paren", '''\
x = (1 + 2
''', '''\
ch.md:4:5: error: unclosed `(`
    x = (1 + 2
        ^
  expected: `)`
  hint: close the parenthesis opened here
'''),
    ("unclosed_paren_reported_at_the_paren_not_the_next_line", '''\
x = (1 + 2
y = 3
''', '''\
ch.md:4:5: error: unclosed `(`
    x = (1 + 2
        ^
  expected: `)`
  hint: close the parenthesis opened here
'''),
    ("unclosed_bracket", '''\
x = f((1, 2), [3
''', '''\
ch.md:4:15: error: unclosed `[`
    x = f((1, 2), [3
                  ^
  expected: `]`
  hint: close the bracket opened here
'''),
    ("unexpected_token", '''\
x = 1 2
''', '''\
ch.md:4:7: error: unexpected `2`
    x = 1 2
          ^
  expected: an operator, `,`, end of line
  hint: check for a missing operator, comma or bracket just before this point
'''),
    ("unexpected_character", '''\
y = 3 $ 4
''', '''\
ch.md:4:7: error: unexpected character '$'
    y = 3 $ 4
          ^
  expected: an operator, `,`, end of line
  hint: the DSL accepts Python-style expressions; remove or quote this character
'''),
    ("invalid_string_escape", '''\
x = "a\\N"
''', '''\
ch.md:4:5: error: invalid escape sequence in string literal (malformed \\N character escape)
    x = "a\\N"
        ^^^^^
  expected: escapes such as \\n, \\t, \\\\, \\" or \\u00e9
  hint: write a backslash as \\\\
'''),
    ("unknown_function_did_you_mean", '''\
X = zeroes((3, 4))
''', '''\
ch.md:4:5: error: unknown function `zeroes`
    X = zeroes((3, 4))
        ^^^^^^
  expected: a DSL built-in or a function defined with `def`
  hint: did you mean `zeros`?
'''),
    ("unknown_function_no_close_match", '''\
X = ones((3, 4))
Y = frobnicate(X)
''', '''\
ch.md:5:5: error: unknown function `frobnicate`
    Y = frobnicate(X)
        ^^^^^^^^^^
  expected: a DSL built-in or a function defined with `def`
  hint: define it with `def frobnicate(...):` before this call
'''),
    ("wrong_arity_too_few", '''\
def f(a, b):
    return a
y = f(1)
''', '''\
ch.md:6:5: error: `f` takes 2 arguments (a, b), got 1
    y = f(1)
        ^
  expected: f(a, b)
  hint: missing a value for `b`
'''),
    ("wrong_arity_too_many", '''\
def f(a):
    return a
y = f(1, 2, 3)
''', '''\
ch.md:6:5: error: `f` takes 1 argument (a), got 3
    y = f(1, 2, 3)
        ^
  expected: f(a)
  hint: remove the 2 extra arguments
'''),
    ("argument_given_twice", '''\
def f(a, b):
    return a
y = f(1, a=4)
''', '''\
ch.md:6:10: error: `f` got two values for `a`
    y = f(1, a=4)
             ^
  expected: f(a, b)
  hint: pass `a` either by position or by name, not both
'''),
    ("unknown_keyword_argument", '''\
X = ones((3, 4))
y = X.sum(axiz=0)
''', '''\
ch.md:5:11: error: `x.sum` has no parameter `axiz`
    y = X.sum(axiz=0)
              ^^^^
  expected: one of: axis, keepdims
  hint: did you mean `axis`?
'''),
    ("unknown_keyword_argument_of_a_chapter_function", '''\
def f(a, b=1):
    return a
y = f(1, c=2)
''', '''\
ch.md:6:10: error: `f` has no parameter `c`
    y = f(1, c=2)
             ^
  expected: one of: a, b
  hint: see the `def f` line
'''),
    ("keyword_that_is_not_a_name", '''\
X = ones((3,))
Y = X.sum(1=2)
''', '''\
ch.md:5:11: error: a keyword argument needs a plain name before `=`
    Y = X.sum(1=2)
              ^
  expected: name=value
  hint: to compare two values, write `==`
'''),
    ("op_missing_argument", '''\
X = full((2, 2))
''', '''\
ch.md:4:5: error: `full` is missing its argument `value`
    X = full((2, 2))
        ^^^^
  expected: full(shape, value, dtype)
  hint: pass `value` by position or as `value=...`
'''),
    ("op_too_many_positional_arguments", '''\
X = ones((3, 4))
Y = X.sum(0, True, 1)
''', '''\
ch.md:5:7: error: `x.sum` takes at most 2 positional arguments, got 3
    Y = X.sum(0, True, 1)
          ^^^
  expected: x.sum(axis, keepdims)
  hint: remove the extra arguments, or pass the optional ones by name
'''),
    ("undefined_name_did_you_mean", '''\
total = 3
y = totl + 1
''', '''\
ch.md:5:5: error: undefined name `totl`
    y = totl + 1
        ^^^^
  expected: a variable assigned earlier in this chapter
  hint: did you mean `total`?
'''),
    ("undefined_name_no_close_match", '''\
y = banana + 1
''', '''\
ch.md:4:5: error: undefined name `banana`
    y = banana + 1
        ^^^^^^
  expected: a variable assigned earlier in this chapter
  hint: assign `banana` in this cell or an earlier one before using it
'''),
    ("matmul_shape_mismatch", '''\
A = ones((3, 4))
B = ones((3, 4))
C = A @ B
''', '''\
ch.md:6:7: error: shape mismatch in matrix product: [3, 4] @ [3, 4]
    C = A @ B
          ^
  expected: the last dimension of the left operand (4) to equal the second-to-last dimension of the right (3)
  hint: transpose one operand (`.T`) or check which axis holds the features
'''),
    ("broadcast_mismatch", '''\
A = ones((3, 4))
B = ones((2, 4))
C = A + B
''', '''\
ch.md:6:7: error: shapes [3, 4] and [2, 4] do not broadcast
    C = A + B
          ^
  expected: matching sizes, or size 1, in each trailing dimension
  hint: reshape one operand so the trailing dimensions line up, or index to select matching parts
'''),
    ("dtype_mismatch_in_function_call", '''\
def f(X: f32[3]) -> f32[3]:
    return X
Y = ones((3,), dtype=int64)
Z = f(Y)
''', '''\
ch.md:7:7: error: `f` expects X: float32[3], got an int64 tensor
    Z = f(Y)
          ^
  expected: a float32 tensor
  hint: cast the argument with `.astype(float32)`
'''),
    ("rank_mismatch_in_function_call", '''\
def f(X: f32[n]) -> f32[n]:
    return X
Z = f(ones((2, 3)))
''', '''\
ch.md:6:7: error: `f` expects X: float32[n] (rank 1), got float32[2, 3]
    Z = f(ones((2, 3)))
          ^^^^
  expected: a tensor of rank 1
  hint: reshape the argument, or change the parameter's annotation
'''),
    ("dtype_mismatch_in_matmul", '''\
A = ones((2, 2))
B = ones((2, 2), dtype=int64)
C = A @ B
''', '''\
ch.md:6:7: error: matrix product of float32 and int64 tensors
    C = A @ B
          ^
  expected: operands of the same dtype
  hint: cast one side, e.g. `.astype(float32)`
'''),
    ("grad_of_non_scalar", '''\
X = ones((3, 4))
g = grad(X * 2, X)
''', '''\
ch.md:5:12: error: `grad` needs a scalar, but this value has shape [3, 4]
    g = grad(X * 2, X)
               ^
  expected: a rank-0 tensor (one number)
  hint: reduce it first, e.g. `grad(y.sum(), x)`
'''),
    ("grad_with_respect_to_int_tensor", '''\
X = arange(4)
g = grad(X.sum(), X)
''', '''\
ch.md:5:19: error: cannot differentiate with respect to `X`, an int64 tensor
    g = grad(X.sum(), X)
                      ^
  expected: a float tensor
  hint: make it a float tensor, e.g. `X = X.astype(float32)`
'''),
    ("grad_of_value_not_depending_on_x", '''\
X = ones((3,))
Y = ones((3,))
g = grad(Y.sum(), X)
''', '''\
ch.md:6:12: error: this value does not depend on `X` (or only through `detach`), so its gradient is zero
    g = grad(Y.sum(), X)
               ^^^
  expected: a value computed from `X`
  hint: compute it from `X` after `X` is assigned
'''),
    ("grad_of_function_not_using_its_argument", '''\
def f(X: f32[n]) -> f32[]:
    return linspace(-1.0, 2.0, 4).sum()
x = tensor([1.0, 2.0])
g = grad(f)(x)
''', '''\
ch.md:7:5: error: the result of `f` does not depend on `x` (or only through `detach`), so its gradient is zero
    g = grad(f)(x)
        ^^^^
  expected: a function whose result is computed from `x`
  hint: use that parameter in `f`'s result, or differentiate with respect to another argument
'''),
    ("calling_a_model_made_inline", '''\
X = ones((3, 2))
y = Linear(2)(X)
''', '''\
ch.md:5:5: error: only named functions can be called
    y = Linear(2)(X)
        ^^^^^^
  expected: name(...)
  hint: assign it to a name first, e.g. `net = Linear(...)`, then call `net(X)`
'''),
    ("grad_with_respect_to_python_number", '''\
x = 2.0
g = grad(x * x, x)
''', '''\
ch.md:5:17: error: `x` is a Python float, not a tensor
    g = grad(x * x, x)
                    ^
  expected: a float tensor
  hint: create it as a tensor, e.g. `x = tensor(1.0)`
'''),
    ("assignment_into_undefined_tensor", '''\
Z[0] = 1
''', '''\
ch.md:4:1: error: assignment into undefined tensor `Z`
    Z[0] = 1
    ^
  expected: a tensor defined before its elements are assigned
  hint: create it first, e.g. `Z = zeros((3, 4))`
'''),
    ("index_out_of_range", '''\
X = ones((3, 4))
y = X[5]
''', '''\
ch.md:5:7: error: index 5 is out of range for axis 0 of size 3
    y = X[5]
          ^
  expected: an index in [-3, 2]
  hint: indices start at 0; negative indices count from the end
'''),
    ("too_many_indices", '''\
X = ones((3, 4))
y = X[0, 1, 2]
''', '''\
ch.md:5:5: error: too many indices: 3 for a tensor of rank 2 [3, 4]
    y = X[0, 1, 2]
        ^^^^^^^^^^
  expected: at most 2 indices
  hint: index each axis at most once; reshape first to index more axes
'''),
    ("float_index", '''\
X = ones((3,))
y = X[1.5]
''', '''\
ch.md:5:7: error: indices must be ints, got float
    y = X[1.5]
          ^^^
  expected: an int
  hint: convert with `int(...)`
'''),
    ("reshape_to_incompatible_size", '''\
X = ones((3, 4))
Y = X.reshape((5, 2))
''', '''\
ch.md:5:7: error: cannot reshape [3, 4] (12 elements) into [5, 2] (10 elements)
    Y = X.reshape((5, 2))
          ^^^^^^^
  expected: a shape with 12 elements
  hint: the number of elements must stay the same
'''),
    ("reshape_with_two_inferred_sizes", '''\
X = ones((3, 4))
Y = X.reshape(-1, -1)
''', '''\
ch.md:5:7: error: `reshape` can infer at most one dimension
    Y = X.reshape(-1, -1)
          ^^^^^^^
  expected: at most one -1
  hint: write all sizes but one explicitly
'''),
    ("return_outside_function", '''\
return 1
''', '''\
ch.md:4:1: error: `return` outside a function
    return 1
    ^^^^^^^^
  expected: `return` inside the body of a `def`
  hint: indent it under a `def`, or assign the value to a name instead
'''),
    ("non_constant_axis", '''\
X = ones((3, 4))
a = 0
Y = X.sum(axis=a)
''', '''\
ch.md:6:16: error: the axis of `sum` must be a constant int
    Y = X.sum(axis=a)
                   ^
  expected: an int literal such as 0 or -1
  hint: axes are fixed when the chapter compiles; write the number itself rather than a variable
'''),
    ("axis_out_of_range", '''\
X = ones((3, 4))
Y = X.sum(axis=2)
''', '''\
ch.md:5:7: error: axis 2 is out of range for a tensor of rank 2
    Y = X.sum(axis=2)
          ^^^
  expected: an axis in [-2, 1]
  hint: axes count from 0; negative axes count from the end (-1 is the last)
'''),
    ("if_on_a_tensor", '''\
X = ones((3,))
if X > 0:
    y = 1
''', '''\
ch.md:5:6: error: an `if` condition must be a single truth value, got a bool[3] tensor
    if X > 0:
         ^
  expected: a bool or a rank-0 bool tensor
  hint: reduce it to one value first, e.g. `X.sum().item() > 0`, or use `where(...)` elementwise
'''),
    ("method_used_without_call", '''\
X = ones((3,))
Y = X.sum
''', '''\
ch.md:5:7: error: `.sum` is a method; call it
    Y = X.sum
          ^^^
  expected: .sum(...)
  hint: add parentheses: `.sum()`
'''),
    ("ragged_tensor_literal", '''\
X = tensor([[1, 2], [3]])
''', '''\
ch.md:4:5: error: ragged nested list: rows have different lengths
    X = tensor([[1, 2], [3]])
        ^^^^^^
  expected: rows of equal length
  hint: every row of a tensor literal needs the same number of items
'''),
    ("unknown_dtype_in_annotation", '''\
def f(X: flt32[3]):
    return X
''', '''\
ch.md:4:10: error: unknown dtype `flt32` in a tensor type
    def f(X: flt32[3]):
             ^^^^^
  expected: f32, f64, i32, i64 or bool
  hint: did you mean `float32`?
'''),
    ("calling_a_variable", '''\
x = 1
y = x(3)
''', '''\
ch.md:5:5: error: `x` is an int, not a function
    y = x(3)
        ^
  expected: a function
  hint: `x` was assigned a value; functions are defined with `def`
'''),
    ("reassigning_a_builtin", '''\
range = 3
''', '''\
ch.md:4:1: error: `range` is a built-in and cannot be reassigned
    range = 3
    ^^^^^
  expected: a name that is not a built-in
  hint: pick another name, e.g. `range_`
'''),
    ("concat_shape_mismatch", '''\
A = ones((2, 3))
B = ones((2, 4))
C = concat([A, B], axis=0)
''', '''\
ch.md:6:5: error: `concat` along axis 0: shapes [2, 3] and [2, 4] differ in axis 1
    C = concat([A, B], axis=0)
        ^^^^^^
  expected: equal sizes in every axis but 0
  hint: concatenate along axis 1 instead, or slice the tensors to match
'''),
    ("negative_size", '''\
M = zeros((3, -3))
''', '''\
ch.md:4:5: error: `zeros` with a negative size -3 in shape [3, -3]
    M = zeros((3, -3))
        ^^^^^
  expected: sizes of 0 or more
  hint: sizes count elements; use 0 for an empty axis
'''),
    ("tuple_axis_for_a_single_axis_op", '''\
M = ones((3, 3))
c = concat([M, M], axis=(0, 1))
''', '''\
ch.md:5:5: error: `concat` takes a single axis, got (0, 1)
    c = concat([M, M], axis=(0, 1))
        ^^^^^^
  expected: one int axis such as 0 or -1
  hint: only reductions such as `sum` accept a tuple of axes
'''),
    ("parameter_without_default_after_one_with", '''\
def f(h: int, d=1, c: i64[3]):
    return h
''', '''\
ch.md:4:20: error: parameter `c` without a default follows `d`, which has one
    def f(h: int, d=1, c: i64[3]):
                       ^
  expected: parameters with defaults last
  hint: move `c` before `d`, or give it a default
'''),
    ("attribute_of_a_python_number", '''\
y = 2.0
z = y.T
''', '''\
ch.md:5:7: error: a float has no attribute `.T`
    z = y.T
          ^
  expected: a tensor
  hint: `.T` is for tensors; make one with `tensor(...)` first
'''),
    ("method_of_a_python_number", '''\
y = 2.0
z = y.sum()
''', '''\
ch.md:5:7: error: a float has no method `.sum`
    z = y.sum()
          ^^^
  expected: a tensor
  hint: `.sum()` is a tensor method; make a tensor with `tensor(...)` first
'''),
    # initialisers of built-in layers and parameters
    ("init_on_a_layer_without_stated_initialisers", '''\
model M():
    norm = BatchNorm1d(init=zeros)
    def forward(X: f32[n, 4]):
        return norm(X)
''', '''\
ch.md:5:24: error: `init=` on the built-in `BatchNorm1d` is not supported: it keeps each framework's default initialiser
        norm = BatchNorm1d(init=zeros)
                           ^^^^
  expected: init= on Linear, Conv2d or Embedding
  hint: declare the parameters with param(shape, init=...) in a model from scratch
'''),
    ("init_on_a_layer_without_parameters", '''\
model M():
    act = ReLU(init=zeros)
    def forward(X: f32[n, 4]):
        return act(X)
''', '''\
ch.md:5:16: error: `ReLU` has no parameters to initialise
        act = ReLU(init=zeros)
                   ^^^^
  expected: ReLU(...) without init=
  hint: stated initialisers are for Linear, Conv2d or Embedding
'''),
    ("bias_init_on_an_embedding", '''\
model M():
    embed = Embedding(28, 16, init=normal(0.0, 1.0), bias_init=zeros)
    def forward(X: i64[b, t]):
        return embed(X)
''', '''\
ch.md:5:54: error: `Embedding` has no bias to initialise
        embed = Embedding(28, 16, init=normal(0.0, 1.0), bias_init=zeros)
                                                         ^^^^^^^^^
  expected: Embedding(..., init=...) without bias_init=
  hint: drop `bias_init=`; `init=` initialises the layer's only parameter
'''),
    ("bias_init_without_a_bias", '''\
model M():
    out = Linear(10, bias=False, bias_init=ones)
    def forward(X: f32[n, 4]):
        return out(X)
''', '''\
ch.md:5:34: error: `Linear(..., bias=False)` has no bias to initialise
        out = Linear(10, bias=False, bias_init=ones)
                                     ^^^^^^^^^
  expected: bias_init= only on a layer with a bias
  hint: drop `bias_init=`, or drop `bias=False`
'''),
    ("xavier_bias", '''\
model M():
    out = Linear(10, init=xavier, bias_init=xavier)
    def forward(X: f32[n, 4]):
        return out(X)
''', '''\
ch.md:5:45: error: `xavier` cannot initialise a bias
        out = Linear(10, init=xavier, bias_init=xavier)
                                                ^^^^^^
  expected: normal(mean, std), uniform(low, high), zeros, ones or constant(v)
  hint: xavier scales by a weight's numbers of inputs and outputs; a bias has neither
'''),
    ("unknown_initialiser_did_you_mean", '''\
model M():
    out = Linear(10, init=nromal(0.0, 0.01))
    def forward(X: f32[n, 4]):
        return out(X)
''', '''\
ch.md:5:27: error: unknown initialiser
        out = Linear(10, init=nromal(0.0, 0.01))
                              ^^^^^^
  expected: normal(mean, std), uniform(low, high), zeros, ones, xavier or constant(v)
  hint: did you mean `normal`?
'''),
    ("unknown_initialiser_no_close_match", '''\
model M():
    out = Linear(10, init=0.01)
    def forward(X: f32[n, 4]):
        return out(X)
''', '''\
ch.md:5:27: error: unknown initialiser
        out = Linear(10, init=0.01)
                              ^^^^
  expected: normal(mean, std), uniform(low, high), zeros, ones, xavier or constant(v)
  hint: write one of these, e.g. normal(0.0, 0.01) or zeros
'''),
    ("initialiser_without_its_arguments", '''\
model M():
    out = Conv2d(6, kernel=5, init=uniform)
    def forward(X: f32[n, 1, 28, 28]):
        return out(X)
''', '''\
ch.md:5:36: error: the initialiser `uniform` needs its arguments
        out = Conv2d(6, kernel=5, init=uniform)
                                       ^^^^^^^
  expected: uniform(low, high)
  hint: call it, e.g. uniform(-0.1, 0.1)
'''),
    ("initialiser_missing_an_argument", '''\
model M():
    out = Linear(10, init=normal(0.01))
    def forward(X: f32[n, 4]):
        return out(X)
''', '''\
ch.md:5:27: error: `normal` is missing its argument `std`
        out = Linear(10, init=normal(0.01))
                              ^^^^^^
  expected: normal(mean, std)
  hint: e.g. normal(0.0, 0.01)
'''),
    ("initialiser_with_a_non_numeric_argument", '''\
model M():
    out = Linear(10, bias_init=constant("one"))
    def forward(X: f32[n, 4]):
        return out(X)
''', '''\
ch.md:5:41: error: `constant`'s argument `value` must be a number, got str
        out = Linear(10, bias_init=constant("one"))
                                            ^^^^^
  expected: constant(value) with numeric arguments
  hint: write a literal or a numeric hyperparameter
'''),
    ("normal_with_a_non_positive_std", '''\
model M():
    out = Linear(10, init=normal(0.0, -0.01))
    def forward(X: f32[n, 4]):
        return out(X)
''', '''\
ch.md:5:39: error: the standard deviation of `normal` must be positive, got -0.01
        out = Linear(10, init=normal(0.0, -0.01))
                                          ^
  expected: normal(mean, std) with std > 0
  hint: for a fixed value use constant(v)
'''),
    ("conv_groups_that_do_not_divide_the_channels", '''\
model M():
    conv = Conv2d(8, kernel=3, groups=3)
    def forward(X: f32[n, 6, 5, 5]):
        return conv(X)
''', '''\
ch.md:7:16: error: `Conv2d`: 8 output channels do not split into groups=3
            return conv(X)
                   ^^^^
  expected: input and output channels that are multiples of groups
  hint: choose groups that divide both channel counts (groups=1 is a dense convolution)
'''),
    ("uniform_with_bounds_reversed", '''\
model M():
    w = param((4, 10), init=uniform(0.1, -0.1))
    def forward(X: f32[n, 4]):
        return X @ w
''', '''\
ch.md:5:29: error: `uniform` needs low < high, got uniform(0.1, -0.1)
        w = param((4, 10), init=uniform(0.1, -0.1))
                                ^^^^^^^
  expected: uniform(low, high) with low < high
  hint: the lower bound comes first
'''),
]


@pytest.mark.parametrize("src, expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_message(src: str, expected: str) -> None:
    assert_error(src, expected)


def test_cases_have_unique_ids() -> None:
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("src", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_every_diagnostic_says_what_was_expected_and_how_to_fix_it(src: str) -> None:
    with pytest.raises(CompileError) as info:
        compile_chapter(chapter(src), FILE, TARGETS)
    for d in info.value.diagnostics:
        assert d.expected, d.message
        assert d.hint, d.message
        assert d.severity == "error"


# ---- chapter-level errors (Markdown structure) ----------------------------------------------------
def test_unknown_only_target() -> None:
    assert_error('''\
# Test

::: only pytorh
Only for PyTorch readers.
:::

```d2l
x = 1
```
''', '''\
ch.md:3:10: error: unknown target `pytorh` in `::: only`
    ::: only pytorh
             ^^^^^^
  expected: one of: jax, mxnet, pytorch, tensorflow
  hint: did you mean `pytorch`?
''', whole_chapter=True)


def test_unknown_only_target_after_a_known_one_points_at_the_right_name() -> None:
    assert_error('''\
# Test

::: only pytorch, py
text
:::
''', '''\
ch.md:3:19: error: unknown target `py` in `::: only`
    ::: only pytorch, py
                      ^^
  expected: one of: jax, mxnet, pytorch, tensorflow
  hint: `d2lc targets` lists the installed targets
''', whole_chapter=True)


def test_only_without_targets() -> None:
    assert_error('''\
# Test

::: only
text
:::
''', '''\
ch.md:3:1: error: `::: only` names no target
    ::: only
    ^^^^^^^^
  expected: one or more of: jax, mxnet, pytorch, tensorflow
  hint: write the targets after `only`, e.g. `::: only pytorch jax`
''', whole_chapter=True)


def test_nested_and_unclosed_only_blocks() -> None:
    assert_error('''\
# Test

::: only jax
::: only pytorch
text
''', '''\
ch.md:3:1: error: unclosed `::: only` block
    ::: only jax
    ^^^^^^^^^^^^
  expected: a line with `:::`
  hint: add a `:::` line where the target-only text ends

ch.md:4:1: error: nested `::: only` block
    ::: only pytorch
    ^^^^^^^^^^^^^^^^
  expected: `:::` closing the block opened on line 3
  hint: close the first block with a `:::` line before opening another
''', whole_chapter=True)


def test_unknown_cell_tag_points_at_the_tag() -> None:
    assert_error('''\
# Test

```d2l d
x = 1
```
''', '''\
ch.md:3:8: error: unknown cell tag `d`
    ```d2l d
           ^
  expected: one of: parameters
  hint: write ```d2l parameters for the cell holding a notebook's parameters
''', whole_chapter=True)


def test_unterminated_cell_at_end_of_file() -> None:
    assert_error('''\
# Test

```d2l
x = 1
y = x + 1
''', '''\
ch.md:3:1: error: unterminated code cell
    ```d2l
    ^^^^^^
  expected: a closing ``` line
  hint: add a ``` line after the cell's code
''', whole_chapter=True)


def test_unterminated_cell_before_the_next_cell_reports_one_clear_error() -> None:
    # The prose swallowed by the open cell must not produce a cascade of syntax errors, and the
    # next cell (which uses `x` from the open one) still compiles.
    assert_error('''\
# Test

```d2l
x = 1

Some prose, explaining things.

```d2l
y = x + 2
```
''', '''\
ch.md:3:1: error: unterminated code cell
    ```d2l
    ^^^^^^
  expected: a closing ``` line
  hint: add a ``` line after the cell's code (the next fenced block starts on line 8)
''', whole_chapter=True)


def test_errors_inside_an_unterminated_cell_are_still_reported() -> None:
    assert_error('''\
# Test

```d2l
x = 1
y = undefined_thing
''', '''\
ch.md:3:1: error: unterminated code cell
    ```d2l
    ^^^^^^
  expected: a closing ``` line
  hint: add a ``` line after the cell's code

ch.md:5:5: error: undefined name `undefined_thing`
    y = undefined_thing
        ^^^^^^^^^^^^^^^
  expected: a variable assigned earlier in this chapter
  hint: assign `undefined_thing` in this cell or an earlier one before using it
''', whole_chapter=True)


# ---- all errors of a file ------------------------------------------------------------------------
def test_all_errors_of_a_file_are_reported_sorted_by_line() -> None:
    text = '''\
# Test

```d2l
X = ones((3, 4))
Y = X @ X
```

Some prose between the cells.

```d2l
def f(x:
```

```d2l
return 2
z = X[7]
w = undefined1
```

::: only pytroch
text
:::
'''
    with pytest.raises(CompileError) as info:
        compile_chapter(text, FILE, TARGETS)
    diags = info.value.diagnostics
    assert [(d.loc.line, d.message) for d in diags] == [
        (5, "shape mismatch in matrix product: [3, 4] @ [3, 4]"),
        (11, "unclosed `(`"),
        (15, "`return` outside a function"),
        (16, "index 7 is out of range for axis 0 of size 3"),
        (17, "undefined name `undefined1`"),
        (20, "unknown target `pytroch` in `::: only`"),
    ]
    assert [d.loc.line for d in diags] == sorted(d.loc.line for d in diags)
    # The rendering of the whole list is stable too.
    assert rendered(text).count(": error: ") == 6


def test_errors_in_different_cells_of_one_chapter_do_not_hide_each_other() -> None:
    cells = ["y1 = nope1", "X = ones((2, 2))\nZ = X @ ones((3, 3))", "w = nope3"]
    text = "# Test\n\n" + "\n".join(f"```d2l\n{c}\n```\n" for c in cells)
    with pytest.raises(CompileError) as info:
        compile_chapter(text, FILE, TARGETS)
    assert len(info.value.diagnostics) == 3


# ---- errors found by the emitter -------------------------------------------------------------------
def test_unsupported_op_on_a_target() -> None:
    text = chapter("X = ones((3, 4))\nY = X.cumsum(axis=0)\n")
    module = compile_chapter(text, FILE, TARGETS)
    pytorch = get_backend("pytorch")
    toy = pytorch.derive(name="toy", ops={k: v for k, v in pytorch.ops.items() if k != "cumsum"})
    with pytest.raises(EmitError) as info:
        build_notebook(module, toy)
    d = info.value.diagnostic
    assert d.render(text.splitlines()) == '''\
ch.md:5:7: error: op `cumsum` is not supported by target `toy`
    Y = X.cumsum(axis=0)
          ^^^^^^
  expected: an op that PyTorch supports
  hint: mark this cell `::: only` for other targets, or rewrite it with supported ops \
(`d2lc test --targets=toy` lists coverage)'''
    # The same chapter is fine for the real backend.
    build_notebook(module, pytorch)


def test_a_stated_initialiser_on_pytorch_needs_the_input_size() -> None:
    """PyTorch's lazy layers would undo a stated initialiser on their first call, so such a layer is built eagerly."""
    text = chapter("model LinearRegression():\n    net = Linear(1, init=normal(0.0, 0.01))\n    def forward(X: f32[n, d]):\n"
                   "        return net(X)\n")
    module = compile_chapter(text, FILE, TARGETS)
    with pytest.raises(EmitError) as info:
        build_notebook(module, get_backend("pytorch"))
    assert info.value.diagnostic.render(text.splitlines()) == '''\
ch.md:5:11: error: `Linear` with a stated initialiser needs its input size on target `pytorch`
        net = Linear(1, init=normal(0.0, 0.01))
              ^^^^^^
  expected: the input of forward annotated with its size (X: f32[n, 784]) or a hyperparameter (X: f32[n, num_inputs])
  hint: PyTorch's lazy layers make their parameters on the first call, after an initialiser would have run'''
    for target in ("tensorflow", "jax", "mxnet"):  # their layers take initialisers up front, lazy or not
        build_notebook(module, get_backend(target))


def test_an_initialiser_gluon_has_no_builtin_for_becomes_an_initializer_class() -> None:
    text = chapter("model M():\n    net = Linear(1, init=normal(0.5, 0.01), bias_init=uniform(0.1, 0.3))\n"
                   "    def forward(X: f32[n, 2]):\n        return net(X)\n")
    code = build_notebook(compile_chapter(text, FILE, TARGETS), get_backend("mxnet"))
    assert "class ShiftedNormal(init.Initializer):" in code and "class UniformRange(init.Initializer):" in code
    assert "weight_initializer=ShiftedNormal(0.5, 0.01)" in code and "bias_initializer=UniformRange(0.1, 0.3)" in code
