"""`d2lc conformance`: the report's steps, the goldens.md format, and what counts as a declared gap."""
from __future__ import annotations

import dataclasses

from d2lc.emit.backend import get_backend
from d2lc.cli.main import main
from d2lc.tools.conformance import check_coverage, declared_gap, goldens_from_tests, missing_ops, read_goldens
from d2lc.emit.rules import Unsupported

GOLDENS = """# Goldens

Prose is ignored.

## an exact case

```d2l
x = arange(3)
```

```python
x = torch.arange(3)
```

## a case that must fail

```d2l
y = arange(3)
```

```error
not supported
```

## compile only

```d2l
z = 1
```
"""


def test_goldens_md_cases(tmp_path):
    path = tmp_path / "goldens.md"
    path.write_text(GOLDENS)
    cases = read_goldens(path)
    assert [c.name for c in cases] == ["an exact case", "a case that must fail", "compile only"]
    assert cases[0].dsl == "x = arange(3)" and cases[0].expected == "x = torch.arange(3)" and cases[0].error is None
    assert cases[1].error == "not supported" and cases[1].expected is None
    assert cases[2].expected is None and cases[2].error is None and cases[0].origin.endswith(":5")


def test_golden_test_file_is_read_without_running_it(tmp_path):
    path = tmp_path / "test_x.py"
    path.write_text('def test_a():\n    validate_all(\n        """\n        x = arange(3)\n        """,\n'
                    '        pytorch="""\n        x = torch.arange(3)\n        """,\n    )\n')
    [(case, expected)] = goldens_from_tests(path)
    assert case.dsl == "x = arange(3)" and expected == {"pytorch": "x = torch.arange(3)"}


def test_todo_is_missing_but_a_reason_is_a_declared_gap():
    torch = get_backend("pytorch")
    ops = dict(torch.ops, cumsum=Unsupported("TODO: cumsum"), dot=Unsupported("no dot product in this framework"))
    partial = dataclasses.replace(torch, name="partial", ops=ops)
    missing, declared = missing_ops(partial)
    assert missing == ["cumsum"] and declared == {"dot": "no dot product in this framework"}
    step = check_coverage(partial)
    assert step.status == "FAIL" and "cumsum" in step.details[0]
    assert declared_gap("op `dot` is not supported by target `partial`", partial)
    assert not declared_gap("op `cumsum` is not supported by target `partial`", partial)
    assert declared_gap("model definitions is not supported by target `partial`", partial)
    assert not declared_gap("shape mismatch in matrix product", partial)


def test_conformance_of_paddle_without_the_numerical_steps(capsys):
    assert main(["conformance", "paddle", "--no-equivalence"]) == 0
    out = capsys.readouterr().out
    assert "coverage     ok" in out and "goldens      ok" in out and "d2lc conformance paddle: ok" in out
