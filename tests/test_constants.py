"""A model's constant tensor, `param(shape, init=..., trainable=False)` (issue 11): every target keeps it out of
`num_params` and out of training, reads it as `net.name`, and the model harness loads it like a parameter."""
from __future__ import annotations

from pathlib import Path

import pytest

from d2lc.build.checked import compile_chapter
from d2lc.core.diagnostics import CompileError
from helpers import chapter, run_on_every_target



_TRAINED = """
    model Scaled():
        c = param((3, 2), init=constant(2.0), trainable=False)
        out = Linear(1)
        def forward(X: f32[n, 3]):
            return out(X @ c)

    features = uniform((64, 3))
    targets = features @ tensor([[1.0], [-2.0], [3.0]])
    net = Scaled()
    Y = net(features)
    before = net.c
    w0 = net.out.weight
    print("count", num_params(net))
    train(net, load_array(features, targets, 16), loss=squared_loss, optimizer=SGD(lr=0.1), epochs=3)
    print("constant", float(abs(net.c - before).sum()), float(net.c.sum()))
    print("trained", float(abs(net.out.weight - w0).sum()) > 0.0)
"""


def test_training_leaves_the_constant_and_num_params_excludes_it(tmp_path: Path):
    runs = run_on_every_target(_TRAINED, tmp_path, cwd=tmp_path)
    failures = [f"{t}:\n{r.error}" for t, r in runs.items() if r.error]
    assert not failures, "\n".join(failures)
    want = ["count 3", "constant 0.0 12.0", "trained True"]  # Linear(1) over 2 features; the constant is 3 x 2 twos
    got = {t: [line for line in r.stdout.splitlines() if line.split(" ")[0] in ("count", "constant", "trained")]
           for t, r in runs.items()}
    wrong = {t: lines for t, lines in got.items() if lines != want}
    assert not wrong, f"every target should print {want}; got {wrong}"


def test_trainable_takes_a_literal_bool():
    src = chapter("""
        model M(frozen: bool = True):
            c = param((2,), init=zeros, trainable=frozen)
            def forward(X: f32[n, 2]):
                return X * c
    """)
    with pytest.raises(CompileError) as err:
        compile_chapter(src, "t.md", {"pytorch"})
    assert "`trainable=` takes True or False" in str(err.value)
