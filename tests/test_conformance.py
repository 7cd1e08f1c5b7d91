"""`d2lc conformance`: the report's steps, the goldens.md format, and what counts as a declared gap."""
from __future__ import annotations

import dataclasses

from pathlib import Path

from d2lc.emit.backend import get_backend, target_names
from d2lc.cli.main import main
from d2lc.tools.conformance import check_coverage, declared_gap, missing_ops
from d2lc.tools.goldens import read_goldens
from d2lc.emit.rules import Unsupported

SHARED = Path(__file__).parent / "goldens.md"

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


def test_tagged_blocks_name_their_target(tmp_path):
    path = tmp_path / "goldens.md"
    path.write_text("## shared\n\n```d2l\nx = arange(3)\n```\n\n```python pytorch\nx = torch.arange(3)\n```\n\n"
                    "```python jax\nx = jnp.arange(3)\n```\n")
    [case] = read_goldens(path)
    assert case.by_target == {"pytorch": "x = torch.arange(3)", "jax": "x = jnp.arange(3)"} and case.expected is None
    assert case.expected_for("jax") == "x = jnp.arange(3)" and case.expected_for("mxnet") is None


def test_the_shared_goldens_name_only_installed_targets():
    cases = read_goldens(SHARED)
    assert len(cases) >= 20 and all(case.by_target for case in cases)
    assert {t for case in cases for t in case.by_target} <= set(target_names())


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
