"""A layer list that a hyperparameter count of 0 leaves empty: `Sequential(*layers)` is the identity on every target
(Keras and flax refuse an empty Sequential, so theirs gets an identity layer when the list may be empty)."""
from __future__ import annotations

from pathlib import Path

import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.emit.modeldefs import ModelEmission
from d2lc.harness.models import model_cases, run_model_cases
from d2lc.harness.session import Session
from helpers import SHARED_CACHE

TARGETS = [n for n in ("pytorch", "tensorflow", "jax", "mxnet", "paddle") if n in target_names()]
GUARDED = [n for n in ("tensorflow", "jax") if n in TARGETS]

EMPTY = """
# Empty layer lists

```d2l
model Stack(num_layers: int = 0, width: int = 4):
    layers = []
    for i in range(num_layers):
        layers.append(Linear(width))
        layers.append(ReLU())
    net = Sequential(*layers)
    def forward(X: f32[b, 4]):
        return net(X) * 2.0

model Nested(arch: tuple = (0, 0)):
    layers = []
    for n in arch:
        for i in range(n):
            layers.append(Linear(4))
    net = Sequential(layers)
    def forward(X: f32[b, 4]):
        return net(X) + 1.0
```
"""


@pytest.fixture(scope="module")
def session():
    if not GUARDED:
        pytest.skip("neither TensorFlow nor JAX is installed")
    with Session([get_backend(n) for n in TARGETS], call_timeout=300, cache_dir=SHARED_CACHE) as s:
        s.start()
        yield s


def _forward(session, tmp_path: Path, targets) -> dict[tuple[str, str], str]:
    chapter = tmp_path / "empty.md"
    chapter.write_text(EMPTY, encoding="utf-8")
    cases, _ = model_cases([chapter])
    results = run_model_cases(session, cases, {n: get_backend(n) for n in targets})
    return {(r.case, r.target): r.status for r in results if r.check == "forward"}


def test_empty_layer_lists_are_the_identity_everywhere(session, tmp_path):
    by = _forward(session, tmp_path, TARGETS)
    for target in set(TARGETS) & set(session.available()):
        assert by[("Stack", target)] == "pass" and by[("Nested", target)] == "pass", (target, by)


def test_an_unguarded_empty_sequential_is_caught(session, tmp_path, monkeypatch):
    """Planted: no guard, `tf.keras.Sequential(layers_)` / `nn.Sequential(layers_)` as before the fix."""
    monkeypatch.setattr(ModelEmission, "may_be_empty", lambda self, children: False)
    by = _forward(session, tmp_path, ["pytorch", *GUARDED])
    for target in set(GUARDED) & set(session.available()):
        assert by[("Stack", target)] in ("FAIL", "error") and by[("Nested", target)] in ("FAIL", "error"), (target, by)


def test_a_list_that_cannot_be_empty_is_not_guarded():
    from d2lc.core import ir
    from d2lc.emit.modeldefs import _may_be_empty
    from d2lc.core.diagnostics import Loc
    loc = Loc("x.md", 1, 1)
    append = ir.LayerAppend(value=ir.Const(type=None, loc=loc, value=0), loc=loc)
    two = ir.Op(type=None, loc=loc, op="range", args={"stop": ir.Const(type=None, loc=loc, value=2)})
    count = ir.Op(type=None, loc=loc, op="range", args={"stop": ir.Var(type=None, loc=loc, name="n")})
    assert not _may_be_empty([append])
    assert not _may_be_empty([ir.LayerLoop("i", two, [append], loc)])
    assert _may_be_empty([ir.LayerLoop("i", count, [append], loc)])
