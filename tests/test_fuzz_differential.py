"""The differential fuzzer in CI: a few hundred random well-typed programs, fixed seed, every target.

A program the compiler rejects, or on which a target disagrees with PyTorch, fails this test unless
its failure signature is listed (with a reason) in tests/known_fuzz_failures.txt. `d2lc fuzz
--programs N --seed S` runs more. The planted-bug test shows the fuzzer finds an emitter bug that
the function corpus and the book's models missed (JAX's softmax ignoring its axis).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.core.diagnostics import CompileError
from d2lc.build.checked import compile_chapter
from d2lc.cli.fuzz import load_signatures
from d2lc.tools.fuzz.run import KNOWN_TARGETS, Fuzzer, generate
from helpers import available_backends

ROOT = Path(__file__).resolve().parent.parent
KNOWN = ROOT / "tests" / "known_fuzz_failures.txt"
CI_PROGRAMS, CI_SEED = 100, 0  # 300 took 20 min on a loaded 2-core machine; `d2lc fuzz` runs more




def test_generated_programs_are_well_typed():
    """The generator writes only what the compiler accepts (no target needed)."""
    rejected = []
    for p in generate(CI_SEED + 1, 100):
        try:
            compile_chapter(p.chapter(), "fuzz.md", KNOWN_TARGETS)
        except CompileError as exc:
            rejected.append(f"{exc.diagnostics[0].message}\n{p.chapter()}")
    assert not rejected, rejected[0]


def test_generation_is_seeded():
    a, b = generate(5, 10), generate(5, 10)
    assert [p.cells for p in a] == [p.cells for p in b]
    assert [p.cells for p in a] != [p.cells for p in generate(6, 10)]


def test_fuzzer_finds_no_new_failure():
    backends = available_backends(target_names())
    if "pytorch" not in {b.name for b in backends} or len(backends) < 2:
        pytest.skip("needs PyTorch and one more target")
    fuzzer = Fuzzer(backends, "pytorch", cache_dir=ROOT / ".d2lc-cache", known=load_signatures(KNOWN))
    try:
        stats = fuzzer.run(CI_PROGRAMS, CI_SEED, batch=50, shrink_budget=8)
    finally:
        fuzzer.close()
    assert stats.programs == CI_PROGRAMS
    assert not stats.failures, "new fuzzer failures (fix them, or list the signature with a reason in " \
        "tests/known_fuzz_failures.txt):\n" + "\n\n".join(f"{f.signature}\n{f.chapter}" for f in stats.failures)


def test_fuzzer_catches_a_planted_softmax_axis_bug(monkeypatch):
    """JAX's softmax planted to ignore its axis (a mutant the function corpus did not kill)."""
    backends = available_backends(["pytorch", "jax"])
    if len(backends) < 2:
        pytest.skip("needs PyTorch and JAX")
    from d2lc.emit.rules import Fn
    monkeypatch.setitem(get_backend("jax").ops, "softmax", Fn("jax.nn.softmax"))
    fuzzer = Fuzzer(backends, "pytorch", cache_dir=ROOT / ".d2lc-cache", known=load_signatures(KNOWN),
                    kinds=("expression", "reduction"))  # softmax lives in expressions
    try:
        # seed 1: its 40 programs include softmax over a non-last axis of varied values (seed 0's 40 have
        # only products and sums of it that agree within tolerance either way)
        stats = fuzzer.run(40, CI_SEED + 1, batch=40, shrink_budget=0)
    finally:
        fuzzer.close()
    jax_failures = [f for f in stats.failures if f.target == "jax" and "softmax" in f.chapter]
    assert jax_failures, [f"{f.signature}\n{f.chapter}" for f in stats.failures]
