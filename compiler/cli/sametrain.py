"""`d2lc test --same-training`: each chapter's `train(...)` on every target from identical starts (harness/sametrain.py)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_same_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--same-training", action="store_true",
                   help="instead of the matrix: run every chapter's train(...) for 2 epochs on small data on every "
                        "target, from identical parameters and minibatches, and compare the per-epoch losses and "
                        "accuracies with the reference's")
    p.add_argument("--own-init", action="store_true",
                   help="instead of the matrix: train every chapter's train(...) model from each target's own "
                        "initialisers under --seeds seeds, and test that the final losses and accuracies have the "
                        "reference's distribution (exact permutation test, false-alarm rate 1e-3 per quantity)")
    p.add_argument("--seeds", type=_positive, default=None, metavar="N",
                   help="with --own-init: runs per target (default 8; at least 7 for a test at level 1e-3)")
    p.add_argument("--model", action="append", metavar="NAME", default=None,
                   help="with --same-training or --own-init: only the train(...) calls of this model (repeatable)")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def run_own_init_step(args: argparse.Namespace, backends: list, reference: str, paths: list[Path], seed: int) -> int:
    """`--own-init`: one line per model and target as each model's runs end; the exit status of `d2lc test`."""
    from math import comb

    from d2lc.harness.owninit import ALPHA, SEEDS, own_init, report_lines
    cache = None if args.cache_dir == "none" else Path(args.cache_dir)
    seeds = args.seeds or SEEDS
    if 2 / comb(2 * seeds, seeds) >= ALPHA:
        print(f"note: with {seeds} seeds no split is rarer than {2 / comb(2 * seeds, seeds):.1e} >= {ALPHA:g}: "
              f"no run can fail (use 7 or more)")
    results, seconds = own_init(paths, backends, reference, seeds, seed, args.device, max(args.timeout, 600.0),
                                set(args.model) if args.model else None, cache,
                                lambda rs: print("\n".join(report_lines(rs)), flush=True))
    failed = [r for r in results if r.status in ("FAIL", "error")]
    compared = [r for r in results if r.status == "pass"]
    print(f"\nown initialisation: {len({r.case for r in results})} models, {seeds} seeds each, {len(compared)} target "
          f"runs agree in distribution with {reference}, {len(failed)} FAIL or error (permutation tests at "
          f"{ALPHA:g} per quantity; data seed {seed}); {seconds:.0f} s")
    if not compared and not failed:
        print("d2lc test: nothing was compared (no train(...) of a model of the chapters in " + ", ".join(map(str, paths)) + ")")
        return 1
    return 1 if failed else 0


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
