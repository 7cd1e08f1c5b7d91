"""Models written once agree across frameworks under one canonical parameter layout; a wrong layout is caught."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from d2lc.backend import Layouts, get_backend, target_names
from d2lc.harness.models import model_cases, run_model_cases
from d2lc.harness.session import Session

ROOT = Path(__file__).resolve().parent.parent
BOOK_TARGETS = [n for n in ("pytorch", "tensorflow", "jax", "mxnet") if n in target_names()]

LENET = """
# LeNet

```d2l
model LeNet(num_classes: int = 10):
    net = Sequential(Conv2d(6, kernel=5, padding=2), Sigmoid(), AvgPool2d(2, stride=2),
                     Conv2d(16, kernel=5), Sigmoid(), AvgPool2d(2, stride=2),
                     Flatten(), Linear(120), Sigmoid(), Linear(84), Sigmoid(), Linear(num_classes))
    def forward(X: f32[b, 1, 28, 28]):
        return net(X)

model MLP(num_hiddens: int = 16, num_outputs: int = 10):
    net = Sequential(Flatten(), Linear(num_hiddens), ReLU(), Linear(num_outputs))
    def forward(X: f32[b, 1, 8, 8]):
        return net(X)
```
"""


@pytest.fixture(scope="module")
def session():
    backends = [get_backend(n) for n in BOOK_TARGETS]
    with Session(backends, call_timeout=300) as s:
        s.start()
        yield s


def _run(session, paths, backends):
    cases, notes = model_cases(paths)
    return cases, run_model_cases(session, cases, {b.name: b for b in backends})


def test_every_model_in_the_book_agrees(session):
    chapters = [p for p in (ROOT / "sources").rglob("*.md")]
    cases, results = _run(session, chapters, [get_backend(n) for n in BOOK_TARGETS])
    if not cases:
        pytest.skip("the book has no models yet")
    failures = [r for r in results if r.status in ("FAIL", "error")]
    assert not failures, "\n".join(f"{r.case} {r.check} {r.target}: {r.status} {r.max_abs:.2e} {r.detail}" for r in failures)
    ran = {r.target for r in results if r.status == "pass" and r.detail != "reference"}
    assert ran, "no target was compared against the reference"


def test_a_wrong_layout_declaration_is_caught(session, tmp_path):
    """Plant a bug: TensorFlow declares torch's (out, in) dense layout and OIHW kernels. Every model with a
    Linear or Conv2d layer must then FAIL on tensorflow, and only there."""
    chapter = tmp_path / "lenet.md"
    chapter.write_text(LENET, encoding="utf-8")
    tf = get_backend("tensorflow")
    if "tensorflow" not in session.available():
        pytest.skip("TensorFlow is not installed")
    planted = dataclasses.replace(tf, layouts=Layouts(dense_weight="out_in", conv_kernel="OIHW", activations="NHWC"))
    torch = get_backend("pytorch")
    cases, results = _run(session, [chapter], [torch, planted])
    by = {(r.case, r.check, r.target): r.status for r in results}
    assert by[("LeNet", "forward", "tensorflow")] in ("FAIL", "error")
    assert by[("MLP", "forward", "tensorflow")] in ("FAIL", "error")
    assert all(by[(c, "forward", "pytorch")] == "pass" for c in ("LeNet", "MLP"))
    honest = {(r.case, r.check, r.target): r.status for r in _run(session, [chapter], [torch, tf])[1]}
    assert honest[("LeNet", "forward", "tensorflow")] == "pass" and honest[("MLP", "grads", "tensorflow")] == "pass"
