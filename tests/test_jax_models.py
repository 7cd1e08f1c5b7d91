"""Behaviour of the emitted flax code that a golden string cannot show: what training mode reaches."""
from __future__ import annotations

import pytest

from helpers import emit

jax = pytest.importorskip("jax")
pytest.importorskip("flax")

NESTED = """
model Block(c: int = 4):
    conv = Conv2d(c, kernel=3, padding=1)
    bn = BatchNorm2d()
    def forward(X: f32[b, 4, 8, 8]):
        return relu(bn(conv(X))) + X

model Net():
    body = Sequential(Block(), ReLU(), Block())
    head = Sequential(Flatten(), Linear(10))
    def forward(X: f32[b, 4, 8, 8]):
        return head(body(X))
"""


def _run(code: str) -> dict:
    namespace: dict = {}
    exec("import functools\nimport jax\nfrom jax import numpy as jnp\nfrom flax import linen as nn\n" + code, namespace)
    return namespace


def test_a_model_inside_sequential_gets_the_training_flag():
    ns = _run(emit(NESTED, "jax"))
    jnp, net = ns["jnp"], ns["Net"]()
    X = jax.random.normal(jax.random.key(3), (2, 8, 8, 4)) + 1.0
    variables = net.init(jax.random.key(0), X)
    _, updated = net.apply(variables, X, training=True, mutable=["batch_stats"])
    before, after = variables["batch_stats"], updated["batch_stats"]
    assert set(after) == {"Block_0", "Block_1"}
    for block in after:
        # training mode: every nested BatchNorm normalises with batch statistics and updates its running mean
        assert not jnp.allclose(before[block]["BatchNorm_0"]["mean"], after[block]["BatchNorm_0"]["mean"])
    eval_out = net.apply(variables, X, training=False)
    train_out, _ = net.apply(variables, X, training=True, mutable=["batch_stats"])
    assert not jnp.allclose(eval_out, train_out)


TWO_MODELS = """
model Plain():
    lin = Linear(1)
    def forward(X: f32[n, 2]) -> f32[n, 1]:
        return lin(X)

model Dropped(p: float = 0.5):
    hidden = Linear(8)
    drop = Dropout(p)
    out = Linear(1)
    def forward(X: f32[n, 2]) -> f32[n, 1]:
        return out(drop(relu(hidden(X))))

data = synthetic_regression(w=tensor([2.0, -3.4]), b=4.2, num_train=16, num_val=8, noise=0.01, batch_size=4)
plain = Plain()
train(plain, data, loss=squared_loss, optimizer=SGD(lr=0.03), epochs=2)
dropped = Dropped()
train(dropped, data, loss=squared_loss, optimizer=SGD(lr=0.03), epochs=2)
"""


def _signature(code: str, model: str) -> str:
    body = code.split(f"class {model}(nn.Module):", 1)[1]
    return next(line.strip() for line in body.splitlines() if "def __call__" in line)


def test_only_a_model_that_acts_differently_in_training_takes_the_flag():
    """Plain has no Dropout or BatchNorm: its `__call__` has no unused `training`, and train() is told which
    models take one (planted: `training_flag=True` for Plain raises a TypeError in the run below; leaving it out
    for Dropped would train it with dropout off)."""
    code = emit(TWO_MODELS, "jax")
    assert _signature(code, "Plain") == "def __call__(self, X):"
    assert _signature(code, "Dropped") == "def __call__(self, X, training=False):"
    calls = [line.strip() for line in code.splitlines() if "_variables = train(" in line or "training_flag=True" in line]
    assert sum("training_flag=True" in c for c in calls) == 1, calls
    import matplotlib
    matplotlib.use("Agg")
    ns = _run("import numpy\nimport optax\nfrom matplotlib import pyplot as plt\n" + code)
    for name in ("plain", "dropped"):  # both train, each through the jitted step
        assert jax.tree_util.tree_leaves(ns[f"{name}_variables"]["params"])
    X = jax.numpy.ones((4, 2))
    net, variables = ns["Dropped"](), ns["dropped_variables"]
    kept = net.apply(variables, X, training=True, rngs={"dropout": jax.random.key(1)})
    assert not jax.numpy.allclose(kept, net.apply(variables, X))  # the flag reaches its Dropout
