"""The same training run on every target (harness/sametrain.py, `d2lc test --same-training`): a chapter's own
`train(...)` from identical parameters and minibatches gives the same per-epoch losses and accuracies everywhere,
and the check fails when one target gets another data order or a wrong initial parameter.

A representative subset of the book: an MLP, LeNet and a GRU language model (the concise one: JAX's flax GRU cell
keeps one bias for two, so its run is skipped with that reason, as the model harness skips its optimizer checks).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from d2lc.cli.main import main
from d2lc.emit.backend import get_backend, target_names
from d2lc.harness import sametrain
from d2lc.harness.sametrain import run_same_training, training_cases
from helpers import started_training_session

pytest.importorskip("torch")

SOURCES = Path(__file__).resolve().parent.parent / "sources"
PATHS = [SOURCES / "chapter_multilayer-perceptrons" / "mlp-concise.md",
         SOURCES / "chapter_convolutional-neural-networks" / "lenet.md",
         SOURCES / "chapter_recurrent-neural-networks" / "gru.md"]
MODELS = {"MLP", "LeNet", "GRULM"}
BACKENDS = {n: get_backend(n) for n in target_names()}


@pytest.fixture(scope="module")
def session():
    with started_training_session(list(BACKENDS.values())) as s:
        yield s


@pytest.fixture(scope="module")
def cases():
    found, _ = training_cases(PATHS)
    chosen = [c for c in found if c.case.written in MODELS]
    assert {c.case.written for c in chosen} == MODELS
    return chosen


def test_book_models_train_alike_on_every_target(session, cases):
    results = run_same_training(session, cases, BACKENDS, "pytorch", seed=0)
    bad = [f"{r.case} on {r.target}: {r.status}: {r.detail}" for r in results if r.status in ("FAIL", "error")]
    assert not bad, "\n".join(bad)
    others = [n for n in session.available() if n != "pytorch"]
    assert others, "no target besides the reference is available"
    for r in results:
        if r.status == "skip" and r.target in others:  # only a layout whose steps cannot agree is skipped
            assert r.target == "jax" and r.case.startswith("GRULM ") and "keeps one bias" in r.detail, r
        if r.status == "pass" and r.target != "pytorch":
            assert len(r.loss_diffs) == sametrain.EPOCHS and max(r.loss_diffs) < 1e-4
    compared = {r.case for r in results if r.status == "pass" and r.target != "pytorch"}
    assert len(compared) == len(cases)


def test_another_data_order_or_initial_parameter_fails(session, cases, monkeypatch):
    others = [n for n in session.available() if n != "pytorch"]
    if len(others) < 2:
        pytest.skip("needs two targets besides the reference")
    reordered, misstarted = others[0], others[1]
    original = sametrain.target_inputs

    def planted(backend, tc, data, params):
        args = original(backend, tc, data, params)
        if backend.name == reordered:  # epoch 1's examples in reverse order: other minibatches (swapping two whole
            n = sametrain.BATCH * sametrain.TRAIN_BATCHES  # minibatches changes an epoch's mean loss only at order lr^2)
            args[0], args[1] = (np.concatenate([a[:n][::-1], a[n:]]) for a in args[:2])
        if backend.name == misstarted:  # the output layer's weights start 1.5 times too large
            args[-2] = args[-2] * 1.5
        return args

    monkeypatch.setattr(sametrain, "target_inputs", planted)
    mlp = [c for c in cases if c.case.written == "MLP"]
    status = {r.target: r for r in run_same_training(session, mlp, BACKENDS, "pytorch", seed=0)}
    shown = {n: (r.status, r.detail) for n, r in status.items()}
    assert status[reordered].status == "FAIL" and status[misstarted].status == "FAIL", shown
    assert all(r.status == "pass" for n, r in status.items() if n not in (reordered, misstarted) and n in session.available())


def test_cli_mode(tmp_path, capsys):
    code = main(["test", str(PATHS[0]), "--same-training", "--targets=paddle", "--model", "MLP", "--seed=3",
                 "--cache-dir=none"])
    out = capsys.readouterr().out
    if "paddle" not in out or "not available" in out or "is not installed" in out:
        pytest.skip("paddle is not available to the harness")
    assert code == 0, out
    assert "pass  MLP (mlp-concise:36) on paddle: max per-epoch loss difference" in out
    assert "same training: 1 runs, 1 target runs agree with pytorch" in out


def test_dropout_rates_are_forced_to_zero():
    """AlexNet's literal Dropout(0.5) layers train at rate 0 (each framework draws its own masks)."""
    from d2lc.core import ir
    found, _ = training_cases([SOURCES / "chapter_modern-cnn" / "alexnet.md"])
    rates = [e.args["rate"].value for c in found for m in c.case.model.members for e in ir.walk_exprs(m.value)
             if isinstance(e, ir.Layer) and e.kind == "Dropout"]
    assert rates and all(r == 0.0 for r in rates), rates


def test_listed_divergences_show_as_known():
    """tests/known_training_divergences.txt: a listed FAIL is `known` with its reason; a pass or an unlisted FAIL stays."""
    from d2lc.harness.known import TRAINING_DIVERGENCES, read_known
    from d2lc.harness.sametrain import TrainingResult, mark_known
    known = read_known(Path(__file__).resolve().parent.parent / TRAINING_DIVERGENCES)
    assert ("DenseNet same-training", "tensorflow") in known and ("DenseNet same-training", "mxnet") in known
    results = [TrainingResult("DenseNet (densenet:146)", "tensorflow", "FAIL", detail="d"),
               TrainingResult("DenseNet (densenet:146)", "jax", "FAIL", detail="d"),
               TrainingResult("DenseNet (densenet:146)", "mxnet", "pass")]
    marked = {r.target: r for r in mark_known(results, known)}
    assert marked["tensorflow"].status == "known" and "float64" in marked["tensorflow"].detail
    assert marked["jax"].status == "FAIL" and marked["mxnet"].status == "pass"
