"""The per-step check of an optimizer run (sgd, adam, train): does a target whose trajectory leaves the reference's
still make every step the reference makes?

A model whose training passes a ReLU input within rounding of zero amplifies rounding: two correct implementations
part at the step where they take different sides of that kink, and from there by up to lr-sized Adam steps, so a
ten-step comparison cannot tell code from rounding (PyTorch against itself from parameters one ulp away parts too);
plain SGD parts at a kink by gradient-sized steps, and minibatch statistics over a few examples amplify alike.
Here the target records its parameters (running statistics included) after every step, and the reference reloads
them before each of its own steps while keeping its optimizer state: every step starts from the same point on both
sides, nothing accumulates, and a wrong formula (epsilon's placement, a bias correction, a running-statistic
momentum) still shows in the step it is wrong in. The per-step tolerance is the ten-step one divided by the number
of steps: K steps that each agree within it cannot end farther apart than the ten-step check allows unless the
trajectory itself amplifies their rounding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from d2lc.core.layers import WEIGHTS
from d2lc.emit.backend import Backend
from d2lc.harness.canonical import params_to_canonical, params_to_native
from d2lc.harness.compare import NOISE_FACTOR

Inputs = Callable[[Backend], tuple[np.ndarray, np.ndarray]]  # a backend's (X, y) for the run, in its own layout


@dataclass
class StepVerdict:
    ok: bool
    detail: str
    worst: float = 0.0  # the largest per-step difference seen


def _within(a, b, rtol: float, atol: float) -> np.ndarray:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(a - b) <= atol + rtol * np.abs(b)


def _trace(session, backend: Backend, key: str, function: str, args: list, case) -> tuple[list[float], list[list[np.ndarray]]]:
    """A `d2lc_case_trace / _from` call's losses and per-step parameters, canonical."""
    losses, steps = session.worker_for(backend.name).call(backend.name, key, function, args).value
    return list(losses), [params_to_canonical(case.params, [np.asarray(a) for a in after], backend.layouts) for after in steps]


def step_by_step(session, case, key: str, check: str, target: Backend, reference: Backend, inputs: Inputs,
                 params: list[np.ndarray], keep: list[np.ndarray | None], tol: tuple[float, float], steps: int) -> StepVerdict:
    """Compare each of the target's optimizer steps (`check`: sgd, adam or train) with the reference's step from the
    same parameters and optimizer state.

    `keep`: per compared tensor (trainable or `compared` running statistic, canonical order), the elements the
    ten-step check compares (None: all); only the trainable tensors' masks (zero gradients) apply here. `tol`: the
    ten-step (rtol, atol)."""
    from d2lc.harness.client import CallFailed, WorkerError
    rtol, atol = tol[0] / steps, tol[1] / steps
    Xt, yt = inputs(target)
    Xr, yr = inputs(reference)
    try:
        t_losses, t_after = _trace(session, target, key, "d2lc_case_trace",
                                   [check, Xt, yt, *params_to_native(case.params, params, target.layouts)], case)
        r_losses, r_after = _trace(session, reference, key, "d2lc_case_trace",
                                   [check, Xr, yr, *params_to_native(case.params, params, reference.layouts)], case)
        starts = [params, *t_after[:-1]]
        flat = [a for start in starts for a in params_to_native(case.params, start, reference.layouts)]
        s_losses, s_after = _trace(session, reference, key, "d2lc_case_from", [check, Xr, yr, *flat], case)
    except (CallFailed, WorkerError, ValueError) as exc:
        return StepVerdict(False, f"the per-step check could not run: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    compared = [i for i, p in enumerate(case.params) if p.trainable or WEIGHTS[p.role].compared]
    masks = dict(zip(compared, keep))

    def differ(a, b, r: float, t: float, noise=None) -> tuple[float, str | None]:
        """The largest difference of two parameter lists, and the first tensor outside r, t (+ the noise band)."""
        worst, where = 0.0, None
        for i in compared:
            # zero-gradient elements stay masked; running statistics are compared whole: from one start they are exact
            m = masks[i] if case.params[i].trainable and masks[i] is not None else np.ones(np.shape(b[i]), bool)
            d = np.abs(np.asarray(a[i], np.float64) - np.asarray(b[i], np.float64))[m]
            band = NOISE_FACTOR * np.asarray(noise[i], np.float64)[m] if noise is not None else 0.0
            worst = max(worst, float(d.max(initial=0.0)))
            if where is None and not (d <= t + r * np.abs(np.asarray(b[i], np.float64)[m]) + band).all():
                where = f"tensor {i} ({case.params[i].role} {case.params[i].shape})"
        return worst, where

    def first_bad(noise=None, loss_noise=None) -> tuple[int | None, float, str]:
        worst = 0.0
        for k in range(steps):
            d, where = differ(t_after[k], s_after[k], rtol, atol, noise[k] if noise else None)
            band = NOISE_FACTOR * loss_noise[k] if loss_noise else 0.0
            worst = max(worst, d)
            if where is None and abs(t_losses[k] - s_losses[k]) > atol + rtol * abs(s_losses[k]) + band:
                where = f"the loss ({t_losses[k]!r} vs {s_losses[k]!r})"
            if where is not None:
                return k, d, where
        return None, worst, ""

    parted = next((k for k in range(steps) if differ(t_after[k], r_after[k], *tol)[1] is not None), None)
    bad, worst, where = first_bad()
    kinks = ""
    if bad is not None:
        # A step start within rounding of a kink: the reference itself, from those starts moved by one ulp, moves as
        # much (compare.py's noise band). Such steps are rounding's; a wrong formula is not reproduced from 1 ulp away.
        try:
            noise, loss_noise = _reference_noise(session, case, key, check, reference, Xr, yr, starts, s_losses, s_after)
        except (CallFailed, WorkerError, ValueError) as exc:
            noise = loss_noise = None
            kinks = f" (its 1-ulp yardstick could not run: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        if noise is not None:
            bad, worst, where = first_bad(noise, loss_noise)
            hit = [k + 1 for k in range(steps) if differ(t_after[k], s_after[k], rtol, atol)[1] is not None]
            kinks = (f"; step{'s' if len(hit) > 1 else ''} {', '.join(map(str, hit))} exceed the per-step tolerance "
                     f"alone and are measured against the reference's own step from those starts moved by one ulp "
                     f"(a ReLU input within rounding of its kink moves it)")
    if bad is not None:
        return StepVerdict(False, f"from the same parameters and state, step {bad + 1} differs in {where} "
                                  f"by up to {worst:.1e} (per-step rtol={rtol:g}, atol={atol:g}){kinks}", worst)
    parting = f"the trajectories part at step {parted + 1}" if parted is not None else "the trajectories agree step by step"
    return StepVerdict(True, f"{parting} (rounding amplified along the trajectory); from the target's own parameters "
                             f"and state the reference makes each of its {steps} steps within {worst:.1e} "
                             f"(per-step rtol={rtol:g}, atol={atol:g}){kinks}", worst)


NUDGES = (10, 11)  # seeds of the reference's 1-ulp reruns from the target's starts


def one_ulp_away(params: list[np.ndarray], seed: int) -> list[np.ndarray]:
    """Every element moved by one unit in the last place, up or down at random (seeded)."""
    rng = np.random.default_rng(seed + 4)
    out = []
    for p in params:
        toward = np.where(rng.random(p.shape) < 0.5, np.inf, -np.inf).astype(p.dtype)
        out.append(np.nextafter(p, toward).astype(p.dtype))
    return out


def _reference_noise(session, case, key: str, check: str, reference: Backend, X, y, starts, losses, after):
    """Per step and element, how far the reference's own step moves when each start moves by one ulp (the largest of
    NUDGES reruns); the same for the losses."""
    noise = [[np.zeros(np.shape(a)) for a in step] for step in after]
    loss_noise = [0.0] * len(losses)
    for seed in NUDGES:
        moved = [one_ulp_away([np.asarray(a) for a in start], seed + k) for k, start in enumerate(starts)]
        flat = [a for start in moved for a in params_to_native(case.params, start, reference.layouts)]
        n_losses, n_after = _trace(session, reference, key, "d2lc_case_from", [check, X, y, *flat], case)
        for k, step in enumerate(n_after):
            loss_noise[k] = max(loss_noise[k], abs(n_losses[k] - losses[k]))
            for i, a in enumerate(step):
                noise[k][i] = np.fmax(noise[k][i], np.abs(np.asarray(a, np.float64) - np.asarray(after[k][i], np.float64)))
    return noise, loss_noise
