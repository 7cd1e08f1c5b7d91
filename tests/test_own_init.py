"""The own-initialisation check (harness/owninit.py, `d2lc test --own-init`): the book's MLP trained from each target's
own initialisers under 8 seeds reaches final losses and accuracies of the reference's distribution (exact permutation
tests at 1e-3), and a target whose default initialiser draws three times too wide fails."""
from __future__ import annotations

from math import comb
from pathlib import Path

import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.harness import owninit
from d2lc.harness.owninit import permutation_p, run_own_init
from d2lc.harness.sametrain import training_cases, training_module_source
from helpers import started_training_session

pytest.importorskip("torch")

MLP = Path(__file__).resolve().parent.parent / "sources" / "chapter_multilayer-perceptrons" / "mlp-concise.md"
BACKENDS = {n: get_backend(n) for n in target_names()}


def test_permutation_p_is_exact():
    assert permutation_p([1.0] * 4, [1.0] * 4) == 1.0
    apart = permutation_p([float(i) for i in range(8)], [float(i) + 100 for i in range(8)])
    assert apart == pytest.approx(2 / comb(16, 8))  # the two most extreme splits of 12,870
    assert 2 / comb(16, 8) < owninit.ALPHA <= 2 / comb(12, 6)  # 8 seeds can fail at ALPHA, 6 could not
    assert 0.2 < permutation_p([0.1, 0.5, 0.3, 0.9], [0.2, 0.6, 0.4, 0.8]) <= 1.0


@pytest.fixture(scope="module")
def session():
    with started_training_session(list(BACKENDS.values())) as s:
        yield s


@pytest.fixture(scope="module")
def mlp():
    return [c for c in training_cases([MLP])[0] if c.case.written == "MLP"]


def test_own_initialisation_trains_alike_in_distribution(session, mlp):
    results = run_own_init(session, mlp, BACKENDS, "pytorch", seeds=owninit.SEEDS)
    bad = [f"{r.target}: {r.status}: {r.detail}" for r in results if r.status in ("FAIL", "error")]
    assert not bad, "\n".join(bad)
    compared = {r.target for r in results if r.status == "pass"}
    assert compared and compared == set(session.available()) - {"pytorch"}
    assert all(set(r.p_values) == set(owninit.QUANTITIES) for r in results if r.status == "pass")


def test_a_default_initialiser_three_times_too_wide_fails(session, mlp):
    if "mxnet" not in session.available():
        pytest.skip("the plant is gluon's Xavier magnitude: needs mxnet")

    def planted(tc, backend):  # Xavier's bound is sqrt(magnitude / fan_avg): 27 instead of 3 draws 3 times too wide
        source = training_module_source(tc, backend)
        return source.replace("init.Xavier()", "init.Xavier(magnitude=27)") if backend.name == "mxnet" else source

    two = {n: BACKENDS[n] for n in ("pytorch", "mxnet")}
    results = {r.target: r for r in run_own_init(session, mlp, two, "pytorch", seeds=owninit.SEEDS, source=planted)}
    assert results["mxnet"].status == "FAIL", results["mxnet"].detail
    assert results["mxnet"].p_values["val loss"] < owninit.ALPHA


def test_cli_usage_errors(capsys):
    from d2lc.cli.main import main
    for argv, message in ((["test", "--seeds", "3"], "--seeds goes with --own-init"),
                          (["test", "--own-init", "--seeds", "0"], "expected a positive integer"),
                          (["test", "--own-init", "--same-training"], "--own-init goes with neither")):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2 and message in capsys.readouterr().err, argv


def test_permutation_p_sampled_beyond_the_exact_limit(monkeypatch):
    monkeypatch.setattr(owninit, "EXACT_LIMIT", 1000)  # C(16, 8) = 12,870 splits: sampled
    p = permutation_p([float(i) for i in range(8)], [float(i) + 100 for i in range(8)])
    assert 0 < p <= 2 / 1000  # never 0: the observed split counts
    assert permutation_p([0.1, 0.5, 0.3, 0.9] * 2, [0.2, 0.6, 0.4, 0.8] * 2) > 0.2


def test_permutation_p_of_many_seeds_is_sampled():
    """C(40, 20) = 1.4e11 splits: sampled (a product of the range in int64 overflowed and enumerated them all)."""
    p = permutation_p([float(i) for i in range(20)], [float(i) + 0.5 for i in range(20)])
    assert 0.5 < p <= 1.0
