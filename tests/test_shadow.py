"""The per-step Adam check (harness/shadow.py) on scripted traces: a trajectory that parts from the reference's but
whose every step the reference reproduces from the same start passes; one wrong step, a wrong loss or a wrong
running statistic fails, and a masked (zero-gradient) element is not compared. No framework runs: the workers are
stand-ins returning prepared traces, so the comparison logic is what is tested (the harness runs it for real in
tests/test_model_equivalence.py)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from d2lc.emit.backend import get_backend
from d2lc.harness.canonical import CanonicalParam
from d2lc.harness.shadow import step_by_step

STEPS = 4
TOL = (1e-3, 5e-4)
PARAMS = [CanonicalParam("#0", "dense_weight", (2, 3)), CanonicalParam("#1", "dense_bias", (2,)),
          CanonicalParam("#2", "bn_mean", (2,))]


class FakeWorker:
    """Answers `d2lc_case_trace` / `_from` calls with a scripted step function."""

    def __init__(self, step):
        self.step, self.calls = step, []

    def call(self, target, key, function, args):
        self.calls.append(function)
        arrays = [np.asarray(a, np.float64) for a in args[3:]]
        n = len(PARAMS)
        assert args[0] == "adam"
        if function == "d2lc_case_trace":
            point, trace, losses = arrays, [], []
            for k in range(STEPS):
                loss, point = self.step(k, point)
                trace.append(tuple(point))
                losses.append(loss)
        else:  # from: one start per step, as the target left it
            starts = [arrays[i * n:(i + 1) * n] for i in range(STEPS)]
            trace, losses = [], []
            for k, start in enumerate(starts):
                loss, after = self.step(k, start)
                trace.append(tuple(after))
                losses.append(loss)
        return SimpleNamespace(value=(tuple(losses), tuple(trace)))


def honest(k, point):
    """One 'Adam step': a fixed update, so from the same start both sides land on the same point."""
    w, b, m = point
    return float(np.sum(w)), [w - 0.01 * np.sign(w + 1e-3), b - 0.01, 0.9 * m + 0.1 * np.sum(w)]


def session_with(target_step, reference_step):
    workers = {"pytorch": FakeWorker(reference_step), "other": FakeWorker(target_step)}
    return SimpleNamespace(worker_for=lambda name: workers[name]), workers


def check(target_step, reference_step=honest, keep=None):
    torch = get_backend("pytorch")
    other = SimpleNamespace(name="other", layouts=torch.layouts)
    session, workers = session_with(target_step, reference_step)
    case = SimpleNamespace(params=PARAMS)
    params = [np.full((2, 3), 0.5), np.zeros(2), np.zeros(2)]
    keep = keep if keep is not None else [None, None, None]
    verdict = step_by_step(session, case, "key", "adam", other, torch, lambda b: (np.zeros((1, 3)), np.zeros(1)), params, keep,
                           TOL, STEPS)
    return verdict, workers


KINK = 0.4900001  # where the step's sign flips: 1e-7 above the point one step of 0.01 from 0.5 reaches


def kinked(k, point, rounding=0.0):
    """A step whose direction flips at KINK (a ReLU input's sign), with a rounding-sized `rounding` added."""
    w, b, m = point
    return float(np.sum(w)), [w - 0.01 * np.sign(w - KINK) + rounding, b - 0.01, 0.9 * m + 0.1 * np.sum(w)]


def test_a_trajectory_rounding_sends_across_a_kink_passes_step_by_step():
    """The target rounds its first step 2e-7 differently: it lands above the kink, the reference below, and from step
    2 on they step in opposite directions (0.02 apart, far outside the ten-step tolerance). From each of the target's
    own points the reference makes the target's step: rounding amplified, not code."""
    def target(k, point):
        return kinked(k, point, 2e-7 if k == 0 else 0.0)
    verdict, workers = check(target, kinked)
    assert verdict.ok, verdict.detail
    assert "the trajectories part at step 2" in verdict.detail and "each of its 4 steps" in verdict.detail, verdict.detail
    assert workers["other"].calls == ["d2lc_case_trace"]
    assert workers["pytorch"].calls == ["d2lc_case_trace", "d2lc_case_from"]


def test_a_step_that_starts_on_a_kink_is_measured_against_the_reference_from_one_ulp_away():
    """The target's point sits on the kink itself (w = 0.49 after one step) and its rule takes the other side there:
    from that same point the steps differ by 0.02, but so does the reference's own step from that point moved by
    one ulp, so rounding decides that step (no emission could agree) and it passes, saying so. Away from a kink the
    1-ulp yardstick is ~1e-17 and excuses nothing (the wrong-step tests below)."""
    def target(k, point):
        w, b, m = point
        side = np.where(np.abs(w - 0.49) < 1e-9, -1.0, np.sign(w - 0.49))
        return float(np.sum(w)), [w - 0.01 * side, b - 0.01, 0.9 * m + 0.1 * np.sum(w)]

    def reference(k, point):
        w, b, m = point
        return float(np.sum(w)), [w - 0.01 * np.sign(w - 0.49), b - 0.01, 0.9 * m + 0.1 * np.sum(w)]
    verdict, workers = check(target, reference)
    assert verdict.ok and "are measured against the reference's own step from those starts moved by one ulp" in verdict.detail, verdict.detail
    assert workers["pytorch"].calls == ["d2lc_case_trace"] + ["d2lc_case_from"] * 3  # the check, two 1-ulp reruns


def test_a_wrong_step_is_caught_in_the_step_it_is_wrong_in():
    def wrong(k, point):
        loss, after = honest(k, point)
        if k == 2:
            after[0] = after[0] + 1e-3  # a wrong update at step 3 only (a bias correction off by a little)
        return loss, after
    verdict, _ = check(wrong)
    assert not verdict.ok and "step 3 differs in tensor 0 (dense_weight" in verdict.detail, verdict.detail


def test_a_small_difference_in_every_step_is_caught():
    """A systematic 2e-4 per step (as a misplaced epsilon gives) adds up over K steps, so each step is held to tol / K:
    2e-4 is inside the run's atol 5e-4 but outside 5e-4 / 4 per step."""
    def drift(k, point):
        loss, after = honest(k, point)
        after[1] = after[1] + 2e-4
        return loss, after
    verdict, _ = check(drift)
    assert not verdict.ok and "tensor 1 (dense_bias" in verdict.detail, verdict.detail


def test_a_wrong_loss_or_running_statistic_is_caught_and_masked_elements_are_not_compared():
    def wrong_loss(k, point):
        loss, after = honest(k, point)
        return loss + 1e-2, after

    def wrong_mean(k, point):
        loss, after = honest(k, point)
        after[2] = after[2] * 1.01  # a running-statistic momentum in the wrong convention
        return loss, after

    def noisy_bias(k, point):
        loss, after = honest(k, point)
        after[1] = after[1] + np.array([0.02, 0.0])  # an element whose gradient is zero up to rounding
        return loss, after
    assert "the loss" in check(wrong_loss)[0].detail
    assert "tensor 2 (bn_mean" in check(wrong_mean)[0].detail
    assert not check(noisy_bias)[0].ok
    masked = [None, np.array([False, True]), None]
    assert check(noisy_bias, keep=masked)[0].ok
