"""The order in which `make test` hands test files to its pytest-xdist workers.

The files run a whole file per worker (`--dist loadfile`), so a long file that starts last runs alone at the end
while the other worker idles. Files start costliest first, by the seconds each took in a measured run
(tests/file_costs.json, written by scripts/file_costs.py); a file not measured yet counts as the median. Within a
file the tests keep their order. `--no-loadscope-reorder` in the Makefile keeps xdist from sorting by test count
instead.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

COSTS_FILE = Path(__file__).with_name("file_costs.json")


def file_costs() -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads(COSTS_FILE.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def costliest_first(items: list, costs: dict[str, float]) -> list:
    """`items` (pytest items, or anything with a `.path`) grouped by file, the costliest file first."""
    default = statistics.median(costs.values()) if costs else 0.0
    first_seen: dict[str, int] = {}
    for i, item in enumerate(items):
        first_seen.setdefault(str(item.path), i)
    return sorted(items, key=lambda it: (-costs.get(Path(it.path).name, default), first_seen[str(it.path)]))


def pytest_collection_modifyitems(session, config, items):
    items[:] = costliest_first(items, file_costs())


@pytest.fixture(scope="module", autouse=True)
def _close_runners():
    """Each test module's warm notebook runners (tests/nbrunner.py) close when the module ends."""
    yield
    from nbrunner import close_all
    close_all()
