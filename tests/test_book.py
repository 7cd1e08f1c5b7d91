"""The book itself: generated/ matches sources/ (the notebooks run in tests/test_notebook_equivalence.py)."""
from __future__ import annotations

from pathlib import Path

from d2lc.emit.backend import get_backend, target_names
from d2lc.build.compile import build

ROOT = Path(__file__).resolve().parent.parent
SOURCES, GENERATED = ROOT / "sources", ROOT / "generated"


def test_generated_is_in_sync_with_sources(tmp_path):
    backends = [get_backend(n) for n in target_names()]  # every registered target, plug-ins included
    result = build([SOURCES], backends, tmp_path)
    assert not result.errors, result.errors
    fresh = {p.relative_to(tmp_path): text for p, text in result.outputs.items()}
    committed = {p.relative_to(GENERATED): p.read_text(encoding="utf-8") for p in GENERATED.rglob("*.ipynb")}
    stale = sorted(str(p) for p in fresh if committed.get(p) != fresh[p])
    extra = sorted(str(p) for p in committed if p not in fresh)
    assert not stale and not extra, f"generated/ is stale; run `make book`. stale={stale} extra={extra}"


# Running every notebook of the book on every target, and comparing what they compute, is
# tests/test_notebook_equivalence.py (once per notebook, in the harness's long-lived workers).
