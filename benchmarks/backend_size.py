#!/usr/bin/env python
"""How big is a backend? Per folder under targets/: lines that are table data vs other code.

    table     lines inside module-level dict/set literals keyed by IR ops (or layers, losses,
              optimizers, data sets): the op table and its kin, one entry per line or several
    code      every other non-blank, non-comment, non-docstring line of its .py files
    docs      docstrings and comment lines
    snippets  code of snippets/ (helper functions pasted into notebooks verbatim)
    goldens   lines of goldens.md (test data, not counted in the total)

Usage: python benchmarks/backend_size.py [targets]
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def table_keys() -> set[str]:
    try:
        from d2lc.core.layers import DATASETS, INITS, LAYERS, LOSSES, OPTIMIZERS
        from d2lc.core.ops import SPECS
    except ImportError:  # run without d2lc installed: read the names from the sources
        return set()
    return set(SPECS) | set(LAYERS) | set(LOSSES) | set(OPTIMIZERS) | set(DATASETS) | set(INITS)


def classify(path: Path, keys: set[str]) -> dict[str, int]:
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    table: set[int] = set()
    docs: set[int] = set()
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, (ast.Dict, ast.Set)):
            items = value.keys if isinstance(value, ast.Dict) else value.elts
            names = [k.value for k in items if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if names and sum(n in keys for n in names) >= max(1, len(names) // 2):
                table.update(range(value.lineno, value.end_lineno + 1))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docs.update(range(first.lineno, first.end_lineno + 1))
    counts = {"total": len(lines), "table": 0, "code": 0, "docs": 0, "blank": 0}
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if not s:
            counts["blank"] += 1
        elif i in docs or s.startswith("#"):
            counts["docs"] += 1
        elif i in table:
            counts["table"] += 1
        else:
            counts["code"] += 1
    return counts


def measure(folder: Path, keys: set[str]) -> dict[str, int]:
    out = {"files": 0, "total": 0, "table": 0, "code": 0, "docs": 0, "blank": 0, "snippets": 0, "goldens": 0}
    for path in sorted(folder.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        c = classify(path, keys)
        out["files"] += 1
        if "snippets" in path.relative_to(folder).parts:
            out["snippets"] += c["code"]
            c["code"] = 0
        for k in ("total", "table", "code", "docs", "blank"):
            out[k] += c[k]
    goldens = folder / "goldens.md"
    if goldens.exists():
        out["goldens"] = len(goldens.read_text(encoding="utf-8").splitlines())
    return out


def main(argv: list[str]) -> int:
    targets = Path(argv[1]) if len(argv) > 1 else ROOT / "targets"
    keys = table_keys()
    rows = [(f.name, measure(f, keys)) for f in sorted(targets.iterdir()) if (f / "__init__.py").exists()]
    cols = ("files", "total", "table", "code", "docs", "blank", "snippets", "goldens")
    print(f"{'backend':12}" + "".join(f"{c:>9}" for c in cols) + f"{'table %':>9}")
    for name, m in rows:
        share = 100 * m["table"] / max(1, m["table"] + m["code"])
        print(f"{name:12}" + "".join(f"{m[c]:>9}" for c in cols) + f"{share:>8.0f}%")
    print("\ntable = op/layer table entries (data); code = other non-blank, non-comment lines; "
          "snippets = notebook helper code; table % = table / (table + code)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
