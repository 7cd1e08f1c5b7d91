"""Golden tests: one DSL snippet, the exact code each target must emit.

The cases are data, in tests/goldens.md (the format is in d2lc/tools/goldens.py): a ```d2l cell and a
```python TARGET block per target. `d2lc conformance` reads the same file.
"""
from pathlib import Path

import pytest
from helpers import emit

from d2lc.tools.goldens import read_goldens

CASES = read_goldens(Path(__file__).parent / "goldens.md", "tests/goldens.md")


@pytest.mark.parametrize("case, target", [pytest.param(case, target, id=f"{case.name}: {target}")
                                          for case in CASES for target in case.by_target])
def test_golden(case, target):
    want = case.by_target[target]
    got = emit(case.dsl, target)
    assert got == want, f"\n{case.origin}\n--- {target}: expected ---\n{want}\n--- {target}: got ---\n{got}\n"


def test_every_case_is_read():
    """A section the reader drops would make its expected outputs pass unchecked."""
    text = (Path(__file__).parent / "goldens.md").read_text(encoding="utf-8")
    assert len(CASES) == text.count("\n## ") and len(CASES) >= 20
    assert sum(len(case.by_target) for case in CASES) == text.count("\n```python ")
