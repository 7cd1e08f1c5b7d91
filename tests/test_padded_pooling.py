"""Padded max pooling on TensorFlow: a window of 2p+1 with stride 1 and padding p is Keras' `padding="same"`, which
ignores the padded positions as a -inf pad would; other paddings stay compile errors (Keras pads with zeros)."""
from __future__ import annotations

from pathlib import Path

import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.harness.models import model_cases, run_model_cases
from d2lc.harness.session import Session
from helpers import SHARED_CACHE

TARGETS = [n for n in ("pytorch", "tensorflow") if n in target_names()]

# every input is negative, so a zero pad would win every border window: a wrong padding cannot go unnoticed
PADDED = """
# Padded pooling

```d2l
model SamePool(num_channels: int = 3):
    pool = MaxPool2d(3, stride=1, padding=1)
    wide = MaxPool2d(5, stride=1, padding=2)
    def forward(X: f32[b, 2, 6, 6]):
        Y = -(X * X) - 1.0
        return concat((pool(Y), wide(Y)), axis=1)
```
"""


@pytest.fixture(scope="module")
def session():
    if TARGETS != ["pytorch", "tensorflow"]:
        pytest.skip("PyTorch or TensorFlow is not installed")
    with Session([get_backend(n) for n in TARGETS], call_timeout=300, cache_dir=SHARED_CACHE) as s:
        s.start()
        yield s


def _forward(session, tmp_path: Path) -> dict[str, str]:
    chapter = tmp_path / "padded.md"
    chapter.write_text(PADDED, encoding="utf-8")
    cases, _ = model_cases([chapter])
    results = run_model_cases(session, cases, {n: get_backend(n) for n in TARGETS})
    return {r.target: r.status for r in results if r.case == "SamePool" and r.check == "forward"}


def test_same_padded_max_pooling_agrees_with_pytorch(session, tmp_path):
    assert _forward(session, tmp_path)["tensorflow"] == "pass"


def test_a_zero_padded_max_pooling_is_caught(session, tmp_path, monkeypatch):
    """Planted: TensorFlow pads with ZeroPadding2D and pools "valid", as Keras' zero padding would."""
    from d2lc_targets.tensorflow import models as tf_models
    original = tf_models.TensorFlowModels._windowed

    def zero_padded(self, layer):
        if layer.kind != "MaxPool2d":
            return original(self, layer)
        fn = tf_models.call(tf_models.K + "MaxPool2D", pool_size=self.expr(layer.args["kernel"]), strides=self.expr(layer.args["stride"]))
        return [tf_models.call(tf_models.K + "ZeroPadding2D", self.expr(layer.args["padding"])), fn]

    monkeypatch.setattr(tf_models.TensorFlowModels, "_windowed", zero_padded)
    assert _forward(session, tmp_path)["tensorflow"] in ("FAIL", "error")


def test_max_pooling_with_other_paddings_is_a_compile_error(tmp_path):
    from d2lc.cli.main import main
    chapter = tmp_path / "strided.md"
    chapter.write_text(PADDED.replace("MaxPool2d(3, stride=1, padding=1)", "MaxPool2d(3, stride=2, padding=1)"), encoding="utf-8")
    assert main(["check", "--target=tensorflow", str(chapter)]) == 1
