"""JAX: a copy that the next statement replaces by an `.at[].set` update is written as one update (targets/jax/fuse.py)."""
from __future__ import annotations

import libcst as cst
import pytest

from d2lc_targets.jax.fuse import fuse_copy_then_set


def fuse(code: str) -> str:
    return cst.Module(fuse_copy_then_set(list(cst.parse_module(code).body))).code


def test_copy_then_set_is_one_update():
    assert fuse("y = 1\n# keep\nchanged = X.copy()\nchanged = changed.at[:, -1].set(0.0)  # zero\n") == \
        "y = 1\n# keep\nchanged = X.at[:, -1].set(0.0)  # zero\n"


@pytest.mark.parametrize("code", [
    "a = X.copy()\na = a.at[0].set(a[1])\n",          # the value reads the copy
    "a = X.copy()\na = a.at[a[0]].set(1.0)\n",        # the index reads it
    "a = X.copy()  # a copy of X\na = a.at[0].set(1.0)\n",  # the copy's line says something
    "a = X.copy()\nb = a.at[0].set(1.0)\n",           # another name
    "a = (X + 1).copy()\na = a.at[0].set(1.0)\n",      # not a plain name
    "a = X.copy()\nprint(a)\na = a.at[0].set(1.0)\n",  # not the next statement
])
def test_other_statements_are_kept(code):
    assert fuse(code) == code
