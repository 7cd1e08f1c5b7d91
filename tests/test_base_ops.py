"""Each backend's op table is the shared base table plus its differences, and says so.

Reads each targets/NAME/ops.py with `ast` for the rows it writes itself and the `base_ops(NS)` it
starts from, then compares the rules: a written row equal to the base row it replaces is dead
weight (and hides which spellings really differ), so it fails here.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from d2lc.emit.base_ops import base_ops

TARGETS = Path(__file__).resolve().parent.parent / "targets"
BACKENDS = sorted(p.parent.name for p in TARGETS.glob("*/ops.py"))


def written_rows(path: Path) -> tuple[str, list[str]]:
    """The namespace a table passes to `base_ops` and the op names it writes as literal keys."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "OPS" for t in node.targets):
            table = node.value
            assert isinstance(table, ast.Dict), f"{path}: OPS is not a dict literal"
            spreads = [v for k, v in zip(table.keys, table.values) if k is None]
            assert spreads and isinstance(spreads[0], ast.Call) and getattr(spreads[0].func, "id", "") == "base_ops", \
                f"{path}: OPS does not start from **base_ops(...)"
            ns = spreads[0].args[0].value
            return ns, [k.value for k in table.keys if isinstance(k, ast.Constant)]
    raise AssertionError(f"{path}: no OPS table")


@pytest.mark.parametrize("name", BACKENDS)
def test_a_backend_writes_only_the_rows_that_differ(name):
    ns, keys = written_rows(TARGETS / name / "ops.py")
    table = importlib.import_module(f"d2lc_targets.{name}.ops").OPS
    base = base_ops(ns)
    same = [k for k in keys if k in base and table[k] == base[k]]
    assert not same, f"targets/{name}/ops.py repeats the base row of: {same} (delete them)"
    assert len(keys) == len(set(keys)), f"targets/{name}/ops.py writes a row twice"

