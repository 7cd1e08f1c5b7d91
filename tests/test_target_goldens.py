"""Each backend's own goldens.md (next to its op table): every case emits exactly the code, or the error, it lists.

A backend adds goldens by adding Markdown sections to its goldens.md; no Python to edit.
"""
from __future__ import annotations

import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.tools.goldens import backend_dir, compile_error, emit_snippet, read_goldens


def cases():
    out = []
    for name in target_names():
        folder = backend_dir(name)
        if folder is not None and (folder / "goldens.md").exists():
            out.extend(pytest.param(name, case, id=f"{name}: {case.name}") for case in read_goldens(folder / "goldens.md"))
    return out


@pytest.mark.parametrize("target, case", cases())
def test_golden_case(target, case):
    backend = get_backend(target)
    if case.error is not None:
        error = compile_error(case.dsl, backend)
        assert error is not None and case.error in error, f"{case.origin}: expected an error containing {case.error!r}, got {error!r}"
        return
    got = emit_snippet(case.dsl, backend)
    want = case.expected_for(target)
    if want is not None:
        assert got == want, f"\n{case.origin}\n--- expected ---\n{want}\n--- got ---\n{got}\n"


def test_paddle_has_goldens():
    folder = backend_dir("paddle")
    assert folder is not None and len(read_goldens(folder / "goldens.md")) >= 10
