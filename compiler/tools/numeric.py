"""The numerical steps of conformance, run in-process on the equivalence harness (d2lc.harness).

    equivalence  every typed function of the chapters, on drawn inputs, against the reference target;
                 only rows the reference passes count against the target.
    models       every model of the chapters, loaded with the same parameters as in the reference
                 (converted to the target's declared layouts): forward, gradients, SGD and Adam steps.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Callable

from d2lc.emit.backend import Backend, get_backend, target_names
from d2lc.tools.report import Step, find_in_repo, shown as _shown

BAD = ("FAIL", "error")


def equivalence_paths(sources: Path | None) -> list[Path]:
    """The chapters `d2lc test` reads by default (sources/ and tests/corpus/), or `sources` when given."""
    if sources is not None:
        return [sources]
    return [p for p in (find_in_repo("sources"), find_in_repo("tests/corpus")) if p is not None]


def check_equivalence(backend: Backend, examples: int, sources: Path | None, reference: str = "pytorch",
                      seed: int | None = None, out: Callable[[str], object] = print) -> Step:
    """The harness's function matrix for the target and the reference, judged from the results in memory."""
    step = Step("equivalence")
    if importlib.util.find_spec("hypothesis") is None:
        step.status, step.summary = "skip", "the equivalence harness needs the test extra (hypothesis is not installed)"
        return step
    from d2lc.build.envs import python_for
    if python_for(backend) is None:
        step.status = "skip"
        step.summary = (f"environment `{backend.environment.name}` is not installed "
                        f"(scripts/envs.sh {backend.environment.name})")
        return step
    from d2lc.harness.report import Progress
    from d2lc.harness.runner import Runner
    order = target_names()
    backends = sorted({backend.name: backend, reference: get_backend(reference)}.values(),
                      key=lambda b: order.index(b.name) if b.name in order else len(order))
    seed = seed if seed is not None else int.from_bytes(os.urandom(4), "big") >> 1
    paths = equivalence_paths(sources)
    out(f"equivalence: seed {seed}; to rerun: d2lc test --target={backend.name} --reference={reference} "
        f"--examples={examples} --seed={seed} --no-models --no-goldens --known=none {' '.join(map(_shown, paths))}")
    runner = Runner(backends, reference=reference, examples=examples, seed=seed, progress=Progress(),
                    cache_dir=Path(".d2lc-cache"))
    result = runner.run(paths)
    rows = [r for r in result.rows if backend.name in r.cells]
    status = [(r, r.cells[backend.name].status, r.cells[reference].status if reference in r.cells else None)
              for r in rows]
    passed = sum(1 for _, mine, _ in status if mine == "pass")
    own = [r for r, mine, ref in status if mine in BAD and (ref not in BAD or backend.name == reference)]
    shared = [r for r, mine, ref in status if mine in BAD and ref in BAD and backend.name != reference]
    skipped = sum(1 for _, mine, _ in status if mine == "skip")
    step.summary = f"{passed} of {len(rows)} rows agree with {reference}" + (f", {skipped} skipped" if skipped else "")
    for r in own:
        cell = r.cells[backend.name]
        step.fail(f"{Path(r.chapter).stem}:{r.label}: {cell.status}: {cell.message}")
    for path, message in result.chapter_errors.items():
        step.fail(f"{path}: does not compile: {message}")
    if shared:
        step.details.append(f"{len(shared)} rows fail on {reference} too (not counted against {backend.name}): "
                            + ", ".join(f"{Path(r.chapter).stem}:{r.label}" for r in shared))
    if rows and skipped == len(rows):
        step.status = "skip"
        step.summary = f"{backend.name} did not run: " + result.target_notes.get(backend.name, "")
    return step


def check_models(backend: Backend, sources: Path | None, reference: str = "pytorch") -> Step:
    """The chapters' models with identical parameters in every framework: forward, gradients, SGD and Adam steps."""
    if sources is None or not sources.exists():
        return Step("models", "skip", "no chapters")
    return model_steps([backend], [sources], reference)[backend.name]


def model_steps(targets: list[Backend], paths: list[Path], reference: str = "pytorch",
                known: dict[tuple[str, str], str] | None = None) -> dict[str, Step]:
    """`check_models` for several targets in one harness session: a step per target, keyed by name.

    A FAIL or error listed in `known` ((`case check`, target) -> reason) is shown as known, not counted."""
    known = known or {}
    steps = {b.name: Step("models") for b in targets}

    def skip_all(why: str) -> dict[str, Step]:
        for step in steps.values():
            step.status, step.summary = "skip", why
        return steps

    if importlib.util.find_spec("d2lc.harness.models") is None:
        return skip_all("the model harness (d2lc.harness.models) is not installed")
    from d2lc.harness.models import model_cases, run_model_cases
    from d2lc.harness.session import Session
    cases, notes = model_cases(paths)
    if not cases:
        return skip_all("no models in " + ", ".join(_shown(p) for p in paths))
    backends = {b.name: b for b in (get_backend(reference), *targets)}
    with Session(list(backends.values()), call_timeout=300) as session:
        session.start()
        if reference not in session.available():
            return skip_all(f"the reference {reference} is not available to the harness")
        try:
            results = run_model_cases(session, cases, backends, reference=reference)
        except Exception as exc:  # noqa: BLE001 - report it; the harness may have tripped over a target's output
            for step in steps.values():
                step.fail(f"the model harness raised {type(exc).__name__}: {exc}")
            return steps
        available = set(session.available())
    ref = {(r.case, r.check): r.status for r in results if r.target == reference}
    for name, step in steps.items():
        if name not in available:
            step.status, step.summary = "skip", f"{name} is not available to the harness"
            continue
        mine = [r for r in results if r.target == name]
        passed = sum(1 for r in mine if r.status == "pass")
        skipped = [r for r in mine if r.status == "skip"]
        step.summary = (f"{passed} of {len(mine)} checks of {len(cases)} models agree with {reference}"
                        + (f", {len(skipped)} skipped" if skipped else ""))
        for r in mine:
            if r.status in ("FAIL", "error") and (f"{r.case} {r.check}", name) in known:
                step.details.append(f"known: {r.case} {r.check}: {r.status}: {known[(f'{r.case} {r.check}', name)]}")
            elif r.status in ("FAIL", "error") and ref.get((r.case, r.check)) == "pass":
                step.fail(f"{r.case} {r.check}: {r.status} (max abs error {r.max_abs:.2e}) {r.detail}".rstrip())
        shared = [r for r in mine if r.status in ("FAIL", "error") and ref.get((r.case, r.check)) != "pass"]
        if shared:
            step.details.append(f"{len(shared)} checks fail on {reference} too (not counted against {name})")
        step.details.extend(sorted({f"skipped: {r.case} {r.check}: {r.detail}" for r in skipped if r.detail}))
        if not passed and step.status == "ok":
            step.status = "skip"
        step.details.extend(f"note: {n}" for n in notes)
    return steps


