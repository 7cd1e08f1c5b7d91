#!/usr/bin/env python3
"""Write tests/file_costs.json from the `--durations=0` report of a whole `make test` run.

Usage: scripts/file_costs.py LOG  (the pytest output of a run with --durations=0). Each test file's cost is the sum
of its tests' setup, call and teardown seconds; tests/conftest.py starts the costliest files first.
"""
from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

LINE = re.compile(r"^\s*([0-9.]+)s\s+(setup|call|teardown)\s+(tests/[^:\s]+\.py)")


def file_costs(log: str) -> dict[str, float]:
    """Seconds per test file, from the lines of a pytest durations report."""
    costs: dict[str, float] = defaultdict(float)
    for line in log.splitlines():
        m = LINE.match(line)
        if m:
            costs[Path(m.group(3)).name] += float(m.group(1))
    return {name: round(cost, 1) for name, cost in sorted(costs.items(), key=lambda kv: (-kv[1], kv[0]))}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    costs = file_costs(Path(argv[1]).read_text(encoding="utf-8", errors="replace"))
    if not costs:
        print(f"{argv[1]}: no durations report (run pytest with --durations=0)", file=sys.stderr)
        return 1
    out = Path(__file__).resolve().parents[1] / "tests" / "file_costs.json"
    out.write_text(json.dumps(costs, indent=1) + "\n", encoding="utf-8")
    print(f"{out}: {len(costs)} files, {sum(costs.values()):.0f} s in all")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
