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
