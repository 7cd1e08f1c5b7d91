"""Hostile input for the front end (issue 15): every case is a clear d2lc error or a correct compile.

Each case was an internal error, a silently wrong notebook or a slow path before its fix. Error cases
compare the WHOLE rendered message (location, source line, caret, expected, hint); accepted cases
check that every target's code parses as Python (`ast.parse`).
"""
from __future__ import annotations

import ast
import json

import pytest

from d2lc.emit.backend import get_backend
from d2lc.core.diagnostics import CompileError
from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import build_notebook

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


# ---- 2. names the generated Python needs ------------------------------------------------------------
def test_python_keywords_and_framework_names_are_renamed_everywhere() -> None:
    # Before: `lambda` crashed black (InvalidInput); `np`, `torch` and `plot_history` shadowed an import or
    # a helper; `key` broke JAX's PRNG threading; members `parameters`/`self` and a hyper-parameter
    # `training` crashed PyTorch.
    text = chapter('''\
lambda_ = 2
lambda = 0.1
np = 3
key = 3
X = normal((2,))
def plot_history(torch: f32[n]) -> f32[n]:
    return torch * lambda
print(plot_history(X), np, key, lambda_)
model M(training: int = 2):
    parameters = param((2,), init=zeros)
    self = Linear(2)
    def forward(X):
        return self(X + parameters) * training
net = M(training=3)
print(net(ones((1, 2))))''')
    codes = assert_parses_everywhere(text)
    assert "lambda__ = 0.1" in codes["pytorch"] and "lambda_ = 2" in codes["pytorch"]
    assert "def plot_history_(torch_):\n    return torch_ * lambda__" in codes["pytorch"]
    assert "print(plot_history_(X), np_, key_, lambda_)" in codes["jax"]
    assert "self.parameters_ = nn.Parameter(torch.zeros((2,)))" in codes["pytorch"]
    assert "return self.self_(X + self.parameters_) * self.training_" in codes["pytorch"]
    assert "net = M(training_=3)" in codes["tensorflow"]
    assert "key, subkey = jax.random.split(key)" in codes["jax"]
    for target, code in codes.items():
        tree = ast.parse(code)
        bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        assert not bound & {"lambda", "np", "torch", "plot_history", "tf", "jnp", "npx", "paddle"}, target


@pytest.mark.parametrize("word", sorted(__import__("keyword").kwlist))
def test_every_python_keyword_as_a_name(word: str) -> None:
    """A DSL reserved word is an error; any other Python keyword is renamed and the code parses."""
    text = chapter(f"{word} = 1\nprint({word})")
    if word in {"and", "or", "not", "def", "for", "while", "in", "if", "elif", "else", "return", "pass", "break", "continue", "True", "False", "None"}:
        with pytest.raises(CompileError):
            compile_chapter(text, FILE, TARGETS)
    else:
        assert f"{word}_ = 1" in assert_parses_everywhere(text)["pytorch"]


@pytest.mark.parametrize("src, col, width", [
    ("and = 1", 1, 3), ("for else in range(3):\n    pass", 5, 4), ("def f(or):\n    return 1", 7, 2),
])
def test_dsl_reserved_words_cannot_be_names(src: str, col: int, width: int) -> None:
    word = src[col - 1:col - 1 + width]
    first = src.splitlines()[0]
    assert_error(chapter(src), f'''\
ch.md:4:{col}: error: `{word}` is a reserved word of the DSL and cannot be a name
    {first}
    {" " * (col - 1)}{"^" * width}
  expected: a name that is not a keyword
  hint: pick another name, e.g. `{word}_`
''')


@pytest.mark.parametrize("name, what", [("Sequential", "layer"), ("Linear", "layer"), ("SGD", "optimizer")])
def test_a_model_named_like_a_built_in_is_an_error(name: str, what: str) -> None:
    # Before: `model Sequential()` compiled and `Sequential()` silently built the built-in layer.
    src = f"model {name}():\n    w = param((2,), init=zeros)\n    def forward(X):\n        return X + w"
    assert_error(chapter(src), f'''\
ch.md:4:7: error: a model cannot be named `{name}`, the DSL's built-in {what}
    model {name}():
          {"^" * len(name)}
  expected: a name that is not a built-in
  hint: call it `My{name}` or another name of its own
''')


@pytest.mark.parametrize("target, module, classes", [
    ("pytorch", "torch.nn", ["Module"]), ("jax", "flax.linen", ["Module"]),
    ("tensorflow", "tensorflow.keras", ["layers.Layer", "Model"]),
    ("mxnet", "mxnet.gluon", ["Block", "HybridBlock"]), ("paddle", "paddle.nn", ["Layer"]),
])
def test_each_backend_lists_its_layer_base_class_attributes(target: str, module: str, classes: list[str]) -> None:
    """Each backend's `member_names` holds its layer base classes' attributes (renamed when a model member takes
    one); a framework upgrade adding one fails here. MXNet's and Paddle's run where their frameworks are installed."""
    import operator

    from d2lc.emit.backend import get_backend
    mod = pytest.importorskip(module)
    listed = get_backend(target).member_names
    for dotted in classes:
        cls = operator.attrgetter(dotted)(mod) if "." in dotted else getattr(mod, dotted)
        public = {n for n in dir(cls) if not n.startswith("_")}
        assert public <= listed, sorted(public - listed)


JAX_OWN_NAMES = chapter('''\
key = 3
rng = 4
training = 5
self = 6
subkey = 7
net_variables = 8
data = synthetic_regression(w=tensor([2.0, -3.4]), b=4.2, num_train=8, num_val=8, noise=0.01, batch_size=4)
model M(p: float = 0.5):
    lin = Linear(1)
    drop = Dropout(p)
    def forward(X):
        return drop(lin(X))
net = M()
probe = M()
Xp = normal((4, 2))
print(probe(Xp).shape)
train(net, data, loss=squared_loss, optimizer=SGD(lr=0.03), epochs=1)
print(net(zeros((1, 2))).shape)
print(key, rng, training, self, subkey, net_variables)''')


def test_chapter_names_the_jax_notebook_binds_itself_are_kept_apart(tmp_path) -> None:
    # Before: `net_variables = 8` was overwritten by the flax variables of `net` (`net_variables = train(...)`),
    # and the last line printed a dict of arrays instead of 8.
    import os
    import subprocess
    import sys

    code = code_of(JAX_OWN_NAMES, "jax")
    assert "net_variables = 8" in code and "net_variables2 = train(" in code
    assert "probe_variables = probe.init(subkey, Xp)" in code  # the usual name where nothing is in the way
    (tmp_path / "nb.py").write_text(code, encoding="utf-8")
    run = subprocess.run([sys.executable, "nb.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "MPLBACKEND": "Agg", "JAX_PLATFORMS": "cpu"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines()[-1] == "3 4 5 6 7 8", run.stdout


CAPTURED = chapter('''\
params = 0.5
x = 1
size = 3
data = synthetic_regression(w=tensor([2.0, -3.4]), b=4.2, num_train=8, num_val=8, noise=0.01, batch_size=4)
model M():
    lin = Linear(size)
    out = Linear(1)
    def forward(X):
        return out(lin(X))
net = M()
train(net, data, loss=squared_loss, optimizer=SGD(lr=params, weight_decay=params), epochs=1)
pool = MaxPool2d(3, padding=x)
print(pool(ones((1, 1, 4, 4))).shape)''')


def test_lambdas_around_chapter_expressions_do_not_capture_its_variables(tmp_path) -> None:
    # Before: `lambda params: torch.optim.SGD(params, lr=params, ...)` (PyTorch, Paddle), `lambda size:
    # nn.Linear(size, size)` (Paddle) and `lambda x: nn.max_pool(x, ..., padding=((x, x),) * 2)` (JAX) read the
    # lambda's own parameter where the chapter meant its variable; the JAX notebook crashed.
    import os
    import subprocess
    import sys

    codes = {t: code_of(CAPTURED, t) for t in ("pytorch", "paddle", "jax", "mxnet")}  # Keras has no -inf padding
    for target, code in codes.items():
        ast.parse(code, filename=f"<{target}>")
    assert "lambda params2: torch.optim.SGD(params2, lr=params, weight_decay=params)" in codes["pytorch"]
    assert "parameters=params2" in codes["paddle"] and "lambda size2: nn.Linear(size2, size)" in codes["paddle"]
    assert "lambda x2: nn.max_pool(x2, (3, 3), strides=(3, 3), padding=((x, x),) * 2)" in codes["jax"]
    (tmp_path / "nb.py").write_text(codes["jax"], encoding="utf-8")
    run = subprocess.run([sys.executable, "nb.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "MPLBACKEND": "Agg", "JAX_PLATFORMS": "cpu"})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines()[-1] == "(1, 1, 2, 2)", run.stdout
    # flax's initialiser lambda (a shifted normal): its `shape` and `dtype` are not the chapter's
    init = code_of(chapter("shape = 0.5\ndtype = 0.25\nnet = Linear(1, init=normal(shape, dtype))\n"
                           "X = ones((2, 3))\nprint(net(X))"), "jax")
    assert "lambda key, shape2, dtype2=jnp.float32: ( shape + dtype * jax.random.normal(key, shape2, dtype2) )" \
        in " ".join(init.split())


def test_the_harness_calls_a_renamed_function_and_reports_the_authors_name(tmp_path) -> None:
    # Before: `sum` (a built-in, emitted as `sum_`) was reported as `sum_`, and its gradient wrappers, written
    # with the emitted names, did not compile, so the gradient rows were silently missing.
    from d2lc.harness.cases import load_chapter

    path = tmp_path / "tiny.md"
    path.write_text(chapter("def sum(x: f32[n], lambda: f32[n]) -> f32[n]:\n    return x * lambda + exp(x)"),
                    encoding="utf-8")
    ch = load_chapter(path, TARGETS)
    assert ch.error is None and [c.name for c in ch.cases] == ["sum"]
    rows = [(r.label, r.callee) for r in ch.cases[0].rows]
    assert rows == [("sum", "sum_"), ("sum d/dx", "__grad_sum__x"), ("sum d/dlambda", "__grad_sum__lambda")]
    assert ch.cases[0].notes == []
    assert {p.name for p in ch.module.functions["__grad_sum__lambda"].params} == {"x", "lambda_", "__d2lc_cot"}
    models = tmp_path / "models.md"  # a model `list` is emitted as `list_`: its results carry the author's name
    models.write_text(chapter("model list(n: int = 3):\n    lin = Linear(n)\n    def forward(X: f32[b, 4]) -> f32[b, 3]:\n"
                              "        return lin(X)\nnet = list()\nprint(net(ones((2, 4))))"), encoding="utf-8")
    from d2lc.harness.models import model_cases
    cases, _ = model_cases([models])
    assert [(c.name, c.written) for c in cases] == [("list_", "list")]
    pytest.importorskip("torch")
    from d2lc.cli.main import main
    code = main(["test", str(path), "--targets=pytorch", "--examples=2", "--seed=5", "--cache-dir=none", "--no-models",
                 "--no-notebooks", f"--reports-dir={tmp_path / 'reports'}", "--report", str(tmp_path / "matrix")])
    matrix = json.loads((tmp_path / "matrix.json").read_text())
    assert code == 0 and [(r["label"], r["cells"]["pytorch"]["status"]) for r in matrix["rows"]] == [
        ("sum", "pass"), ("sum d/dx", "pass"), ("sum d/dlambda", "pass")]


# ---- 3. declared result types ------------------------------------------------------------------------
def test_a_declared_result_with_no_return_is_an_error() -> None:
    # Before: compiled, and `f` returned None in every notebook.
    assert_error(chapter("def f(a: f32[n]) -> f32[n]:\n    pass"), '''\
ch.md:4:5: error: `f` declares the result float32[n] but returns nothing
    def f(a: f32[n]) -> f32[n]:
        ^
  expected: `return` with a value of type float32[n]
  hint: add a `return` statement, or remove the `->` annotation
''')


def test_every_return_must_match_the_declared_result() -> None:
    # Before: only the last `return` was checked, and only tensor against tensor.
    assert_error(chapter("def f(a: f32[n]) -> f32[]:\n    if a.sum() > 0:\n        return 1.0\n    return a.sum()\n"
                         "def g(a: f32[n]) -> int:\n    return a"), '''\
ch.md:6:16: error: `f` returns float, but its signature says float32[]
            return 1.0
                   ^^^
  expected: float32[]
  hint: fix the return annotation or the computation

ch.md:9:12: error: `g` returns float32[n], but its signature says int
        return a
               ^
  expected: int
  hint: fix the return annotation or the computation
''')


# ---- 4. Markdown fences, byte-order marks, encodings ----------------------------------------------
def test_a_d2l_cell_inside_an_unclosed_python_fence_is_reported() -> None:
    # Before: exit 0 and the ```d2l cell silently missing from every notebook.
    assert_error("# T\n\n```python\nx\n\n```d2l\nx = 1\n```\n", '''\
ch.md:6:1: error: a ```d2l cell inside the ```python block opened on line 3
    ```d2l
    ^^^^^^
  expected: a closing ``` line before this cell
  hint: close the block opened on line 3 with a ``` line
''')


def test_an_unclosed_fence_is_reported() -> None:
    assert_error("# T\n\n```d2l\nx = 1\n```\n\n~~~ text\nnot closed\n", '''\
ch.md:7:1: error: unclosed ~~~ text block
    ~~~ text
    ^^^^^^^^
  expected: a closing ~~~ line
  hint: add a ~~~ line where the block ends
''')


def test_fences_close_as_in_commonmark() -> None:
    """A longer fence holds a shorter one; a bare fence is a block too, so its `# ` line is no title."""
    text = "````markdown\n```d2l\nnot a cell\n```\n# not the title\n````\n\n# Title\n\n```d2l\nx = 1\n```\n"
    module = compile_chapter(text, FILE, TARGETS)
    assert module.title == "Title"
    assert [c.source for c in module.cells if c.kind == "code"] == ["x = 1"]


def test_a_byte_order_mark_keeps_the_title() -> None:
    # Before: the title was lost (the first line read "\ufeff# Title").
    assert compile_chapter("\ufeff# Title\n\n```d2l\nx = 1\n```\n", FILE, TARGETS).title == "Title"


def test_a_file_that_is_not_utf8_gets_its_line_and_a_hint(tmp_path, capsys) -> None:
    # Before: `cannot read file: 'utf-8' codec can't decode ...` at 1:1, with no source line or hint.
    from d2lc.cli.main import main
    path = tmp_path / "bad.md"
    path.write_bytes(b"# T\n\nCaf\xe9 au lait\n\n```d2l\nx = 1\n```\n")
    assert main(["check", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f'''\
{path}:3:4: error: this file is not valid UTF-8 (byte 0xe9)
    Caf\ufffd au lait
       ^
  expected: UTF-8 text
  hint: save the chapter as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.md > out.md`
''')
