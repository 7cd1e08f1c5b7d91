"""Every backend's layer table is its differences from the base rows, and every row names real DSL arguments."""
from __future__ import annotations

import importlib

import pytest

from d2lc.core.layers import LAYERS
from d2lc.emit.model_code import BASE_LAYER_ROWS, LayerRow

BACKENDS = ("pytorch", "tensorflow", "jax", "mxnet", "paddle")


def rows_of(name: str) -> dict[str, LayerRow]:
    return importlib.import_module(f"d2lc_targets.{name}.models").LAYER_ROWS


def misnamed(kind: str, row: LayerRow) -> list[str]:
    """The entries of a row that are neither a DSL argument of the layer nor `=code`."""
    params = {p.name for p in LAYERS[kind].params}
    entries = [*row.positional, *row.keywords.values()]
    return [e for e in entries if not e.startswith("=") and e.lstrip("!") not in params]


def test_the_base_rows_spell_every_layer():
    assert set(BASE_LAYER_ROWS) == set(LAYERS) - {"Sequential"}
    assert all(not misnamed(k, row) for k, row in BASE_LAYER_ROWS.items())


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backend_row_names_only_the_layers_arguments(backend):
    rows = rows_of(backend)
    assert set(BASE_LAYER_ROWS) <= set(rows), "a backend table extends the base rows ({**BASE_LAYER_ROWS, ...})"
    bad = {k: misnamed(k, row) for k, row in rows.items() if row.why_not is None and misnamed(k, row)}
    assert not bad, f"{backend}: rows naming arguments the layer does not have: {bad}"


def test_a_misspelt_argument_is_caught():
    assert misnamed("GroupNorm", LayerRow("nn.GroupNorm", (), {"groups": "!num_group"})) == ["!num_group"]
