"""Files (issue 11): `save`/`load` of tensors and of tuples and lists of them, `save_params`/`load_params` of a model's
parameters, each in the framework's own format. Every rejection is a compile error with its location, caret,
expectation and hint (the whole message is compared), and what is loaded agrees with what was saved on every target:
the same values, and a clone that computes the saved model's output."""
from __future__ import annotations

import pytest

from helpers import run_on_every_target
from test_errors import assert_error



# (id, source of the cell, the full rendered message); the first line of a source is line 4 of ch.md
CASES = [
    ('load_unsaved', 'x2 = load("x-file")\n', '''\
ch.md:4:11: error: nothing is saved to "x-file" with `save` before this line
    x2 = load("x-file")
              ^^^^^^^^
  expected: save(x, "x-file") earlier in the chapter
  hint: `load` gives back what `save` wrote: save the value first
'''),
    ('path_not_literal', 'x = ones((2,))\nname = "x-file"\nsave(x, name)\n', '''\
ch.md:6:9: error: `save` names its file with a string literal
    save(x, name)
            ^^^^
  expected: save(x, "x-file")
  hint: write the file name in quotes: the compiler reads from it what the file holds
'''),
    ('save_model', 'model MLP(h: int = 4):\n    hid = Linear(h)\n    out = Linear(2)\n    def forward(X: f32[n, 3]):\n        return out(relu(hid(X)))\n\nnet = MLP()\nsave(net, "net")\n', '''\
ch.md:11:6: error: `save` writes a tensor or a tuple or list of tensors, got model MLP
    save(net, "net")
         ^^^
  expected: save(x, "x-file")
  hint: save a model's parameters with `save_params(net, ...)`
'''),
    ('save_twice', 'save(ones((2,)), "f")\nsave(ones((3,), dtype=int64), "f")\n', '''\
ch.md:5:31: error: "f" already holds float32[2] (saved at line 4)
    save(ones((3,), dtype=int64), "f")
                                  ^^^
  expected: a value of type float32[2]
  hint: save different values to different files
'''),
    ('params_other_model', 'model MLP(h: int = 4):\n    hid = Linear(h)\n    out = Linear(2)\n    def forward(X: f32[n, 3]):\n        return out(relu(hid(X)))\n\nmodel Other():\n    out = Linear(2)\n    def forward(X: f32[n, 3]):\n        return out(X)\n\nX = ones((1, 3))\nnet = MLP()\nnet(X)\nsave_params(net, "p")\nclone = Other()\nclone(X)\nload_params(clone, "p")\n', '''\
ch.md:21:13: error: "p" holds the parameters of model MLP, but `clone` is model Other
    load_params(clone, "p")
                ^^^^^
  expected: an instance of MLP (clone = MLP(...))
  hint: load parameters into a fresh instance of the model that saved them
'''),
    ('params_other_hyperparameters', 'model MLP(h: int = 4):\n    hid = Linear(h)\n    out = Linear(2)\n    def forward(X: f32[n, 3]):\n        return out(relu(hid(X)))\n\nX = ones((1, 3))\nnet = MLP()\nnet(X)\nsave_params(net, "p")\nclone = MLP(8)\nclone(X)\nload_params(clone, "p")\n', '''\
ch.md:16:13: error: `clone` is not built with the hyperparameters of the model whose parameters "p" holds (line 13)
    load_params(clone, "p")
                ^^^^^
  expected: the same hyperparameters, written as values (clone = MLP(256))
  hint: the parameters' shapes follow the hyperparameters: build the clone as the saved model was
'''),
    ('params_unbuilt', 'model MLP(h: int = 4):\n    hid = Linear(h)\n    out = Linear(2)\n    def forward(X: f32[n, 3]):\n        return out(relu(hid(X)))\n\nX = ones((1, 3))\nnet = MLP()\nnet(X)\nsave_params(net, "p")\nclone = MLP()\nload_params(clone, "p")\n', '''\
ch.md:15:1: error: `clone` has no parameters yet: it has not been called on data
    load_params(clone, "p")
    ^^^^^^^^^^^
  expected: clone(X) or train(clone, ...) at the top level, before this line
  hint: frameworks make a layer's parameters when it first sees an input (its shapes); call the model once outside loops and branches
'''),
    ('params_as_tensor', 'model MLP(h: int = 4):\n    hid = Linear(h)\n    out = Linear(2)\n    def forward(X: f32[n, 3]):\n        return out(relu(hid(X)))\n\nX = ones((1, 3))\nnet = MLP()\nnet(X)\nsave_params(net, "p")\nx = load("p")\n', '''\
ch.md:14:10: error: nothing is saved to "p" with `save` before this line
    x = load("p")
             ^^^
  expected: save(x, "p") earlier in the chapter
  hint: a model's parameters are read back with `load_params(clone, ...)`
'''),
    ('save_in_function', 'def f(x: f32[n]) -> f32[n]:\n    save(x, "f")\n    return x\n', '''\
ch.md:5:5: error: `save` stands at the top level of a chapter, outside `def` and `model`
        save(x, "f")
        ^^^^
  expected: save(x, "x-file")
  hint: save or load the tensor at the top level and pass it to the function
'''),
]


@pytest.mark.parametrize("src,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_file_errors(src: str, expected: str) -> None:
    assert_error(src, expected)


TOP_LEVEL = '''
model MLP(h: int = 16):
    hid = Linear(h)
    out = Linear(3)
    def forward(X: f32[n, 5]):
        return out(relu(hid(X)))

x = arange(4.0)
save(x, "x-file")
x2 = load("x-file")
print(float(x2.sum()), float(((x2 - x) ** 2).sum()))
i = arange(3)
save(i, "i-file")
print(int(load("i-file").sum()))
y = ones((2, 3))
save([x, y], "x-files")
x3, y3 = load("x-files")
print(float(x3[3]), float(y3.sum()), y3.shape[1])
save((y * 2, x), "pair")
p = load("pair")
print(float(p[0].sum()), float(p[1].sum()))
seed(1)
X = uniform((2, 5))
net = MLP()
Y = net(X)
save_params(net, "mlp.params")
clone = MLP()
Z = clone(X)
print(float(abs(Z - Y).max()) > 0.0)
load_params(clone, "mlp.params")
print(float(abs(clone(X) - Y).max()))
print(float(abs(clone.out.weight - net.out.weight).max()))
'''


def test_saved_tensors_and_parameters_load_back_on_every_target(tmp_path) -> None:
    """A tensor (float and int), a list and a tuple of tensors come back with their values and order; a fresh clone,
    different before, computes the saved model's output after `load_params` (each target's format, in its folder)."""
    runs = run_on_every_target(TOP_LEVEL, tmp_path)  # each target in its own folder: the files do not collide
    want = "6.0 0.0\n3\n3.0 6.0 3\n12.0 6.0\nTrue\n0.0\n0.0\n"
    wrong = {t: run.error or run.stdout for t, run in runs.items() if run.error or run.stdout != want}
    assert not wrong, f"expected every target to print\n{want}got: {wrong}"
