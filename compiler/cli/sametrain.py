"""`d2lc test --same-training`: each chapter's `train(...)` on every target from identical starts (harness/sametrain.py)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_same_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--same-training", action="store_true",
                   help="instead of the matrix: run every chapter's train(...) for 2 epochs on small data on every "
                        "target, from identical parameters and minibatches, and compare the per-epoch losses and "
                        "accuracies with the reference's")
    p.add_argument("--model", action="append", metavar="NAME", default=None,
                   help="with --same-training: only the train(...) calls of this model (repeatable)")


def run_same_training_step(args: argparse.Namespace, backends: list, reference: str, paths: list[Path], seed: int,
                           known: dict[tuple[str, str], str] | None = None) -> int:
    """Run the mode, print one line per model and target and the wall time; the exit status of `d2lc test`.
    `known`: (`MODEL same-training`, target) -> reason (tests/known_training_divergences.txt): such a FAIL or error
    shows as `known` with its reason and does not fail the run; a listed run that passes is named for removal."""
    from d2lc.harness.sametrain import ACC_FLIPS, LOSS_ATOL, LOSS_RTOL, mark_known, report_lines, same_training
    cache = None if args.cache_dir == "none" else Path(args.cache_dir)
    known = known or {}
    def done(case_results) -> None:  # printed as each run ends: the whole book takes a while
        for line in report_lines(mark_known(case_results, known), reference):
            print(line, flush=True)

    results, notes, seconds = same_training(paths, backends, reference, seed, args.device, max(args.timeout, 600.0),
                                            set(args.model) if args.model else None, cache, done)
    for note in notes:
        print(f"not run: {note}")
    results = mark_known(results, known)
    for r in results:
        if r.status == "pass" and (f"{r.model} same-training", r.target) in known:
            print(f"listed as known but passes now (remove its line): {r.model} same-training | {r.target}")
    failed = [r for r in results if r.status in ("FAIL", "error")]
    compared = [r for r in results if r.status == "pass" and r.target != reference]
    cases = len({r.case for r in results})
    print(f"\nsame training: {cases} runs, {len(compared)} target runs agree with {reference}, {len(failed)} FAIL or "
          f"error, {sum(r.status == 'known' for r in results)} known, {sum(r.status == 'skip' for r in results)} skipped (per-epoch losses within rtol {LOSS_RTOL:g} / "
          f"atol {LOSS_ATOL:g}, accuracies within {ACC_FLIPS} prediction); {seconds:.0f} s")
    if not compared and not failed and not any(r.status == "known" for r in results):
        print("d2lc test: nothing was compared (no train(...) of a model of the chapters in " + ", ".join(map(str, paths)) + ")")
        return 1
    return 1 if failed else 0
