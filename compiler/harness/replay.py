"""Failing inputs on disk: `.npz` files holding one example (arrays only, loaded without pickle)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from d2lc.core.types import ScalarType, TensorType
from d2lc.harness.cases import COTANGENT
from d2lc.harness.strategies import Example

if TYPE_CHECKING:
    from d2lc.harness.cases import FunctionCase

META = "__meta__"


def save_example(path: Path, case: "FunctionCase", ex: Example, meta: dict[str, Any]) -> None:
    """Write an example: one array per argument (scalars as 0-d arrays), plus JSON metadata."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"arg_{name}": np.asarray(value) for name, value in ex.args.items()}
    info = dict(meta, dims=ex.dims, params=[s.name for s in case.specs],
                scalars={s.name: s.type.kind for s in case.specs if isinstance(s.type, ScalarType)})
    arrays[META] = np.array(json.dumps(info))
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def load_example(path: Path) -> tuple[Example, dict[str, Any]]:
    """An example saved by `save_example`, and its metadata."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data[META]))
        args: dict[str, Any] = {}
        for name in meta["params"]:
            a = data[f"arg_{name}"]
            kind = meta["scalars"].get(name)
            args[name] = {"int": int, "float": float, "bool": bool}[kind](a.item()) if kind else a
    return Example({k: int(v) for k, v in meta.get("dims", {}).items()}, args), meta


def format_example(case: "FunctionCase", ex: Example) -> str:
    """The input, readably: symbol sizes, then each argument (arrays in full; they are small)."""
    lines = []
    if ex.dims:
        lines.append("    sizes: " + ", ".join(f"{k}={v}" for k, v in ex.dims.items()))
    for p in case.specs:
        if p.name not in ex.args:
            continue
        v = ex.args[p.name]
        name = "output weights (gradient rows)" if p.name == COTANGENT else p.name
        if isinstance(v, np.ndarray):
            body = np.array2string(v, precision=8, separator=", ", threshold=200, max_line_width=100)
            body = body.replace("\n", "\n" + " " * (8 + len(name)))
            lines.append(f"    {name} ({v.dtype.name}{list(v.shape)}) = {body}")
        else:
            lines.append(f"    {name} = {v!r}")
    return "\n".join(lines)


__all__ = ["save_example", "load_example", "format_example", "TensorType"]
