"""The costliest-file-first order of tests/conftest.py and the cost table it reads (scripts/file_costs.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

from conftest import costliest_first

ROOT = Path(__file__).resolve().parents[1]


def _items(*specs: str) -> list:
    return [SimpleNamespace(path=Path("/r/tests") / s.split("::")[0], name=s) for s in specs]


def test_files_start_costliest_first_and_keep_their_tests_in_order():
    items = _items("a.py::1", "b.py::1", "a.py::2", "c.py::1", "b.py::2", "d.py::1")
    ordered = [it.name for it in costliest_first(items, {"a.py": 5.0, "b.py": 50.0, "c.py": 1.0})]
    # d.py is not measured: it counts as the median (5.0) and keeps its place after a.py, seen first
    assert ordered == ["b.py::1", "b.py::2", "a.py::1", "a.py::2", "d.py::1", "c.py::1"]
    assert [it.name for it in costliest_first(items, {})] == ["a.py::1", "a.py::2", "b.py::1", "b.py::2", "c.py::1", "d.py::1"]


def test_the_cost_table_sums_setup_call_and_teardown_per_file():
    spec = importlib.util.spec_from_file_location("file_costs", ROOT / "scripts" / "file_costs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    log = ("============ slowest durations ============\n"
           "12.50s call     tests/test_a.py::test_x\n"
           "2.00s setup    tests/test_a.py::test_x\n"
           "30.00s call     tests/test_b.py::test_y[pytorch]\n"
           "0.25s teardown tests/test_a.py::test_z\n"
           "(3 durations < 0.005s hidden.)\n")
    assert module.file_costs(log) == {"test_b.py": 30.0, "test_a.py": 14.8}
