"""Comparing a target's outputs with the declared IR type and with the reference target's outputs.

Dtype and shape are checked first (against the IR's declared type, narrowed where a target
computes narrower, e.g. JAX without 64-bit mode), then values against the reference under a
per-dtype tolerance table; NaN equals NaN. Ints and bools must match exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from d2lc.core.types import DType, ScalarType, SeqType, TensorType, Type

# dtype -> (rtol, atol): |actual - reference| <= atol + rtol * |reference|
TOLERANCES: dict[str, tuple[float, float]] = {
    "float32": (1e-4, 1e-5),
    "float64": (1e-9, 1e-12),
}
PYTHON_FLOAT = "float32"  # a Python float from `.item()` may come from a float32 tensor
NOISE_FACTOR = 4.0  # an error this many times the reference's own rounding sensitivity is still agreement


@dataclass
class Verdict:
    """The outcome of one comparison: ok, and if not, why; the largest errors seen."""

    ok: bool = True
    message: str = ""
    max_abs: float = 0.0
    max_rel: float = 0.0

    def fail(self, message: str) -> "Verdict":
        if self.ok:
            self.ok, self.message = False, message
        return self

    def absorb(self, other: "Verdict") -> None:
        self.max_abs = max(self.max_abs, other.max_abs)
        self.max_rel = max(self.max_rel, other.max_rel)
        if not other.ok:
            self.fail(other.message)


Effective = Callable[[DType], DType]


def describe(v: Any) -> str:
    if v is None:
        return "None"
    if isinstance(v, np.ndarray):
        return f"a {v.dtype.name} array of shape {tuple(v.shape)}"
    if isinstance(v, tuple):
        return f"a tuple of {len(v)}"
    return f"a Python {type(v).__name__}"


def _type_text(t: Type, dims: dict[str, int], effective: Effective) -> str:
    if isinstance(t, TensorType):
        shape = ", ".join(str(dims.get(d, d)) if isinstance(d, str) else ("?" if d is None else str(d)) for d in t.shape)
        return f"{effective(t.dtype).value}[{shape}]"
    return str(t)


def check_type(value: Any, expected: Type, dims: dict[str, int], effective: Effective = lambda d: d, where: str = "") -> str | None:
    """Why `value` does not have the declared type (symbols bound by `dims`), or None if it has."""
    at = f" (output {where})" if where else ""
    if isinstance(expected, SeqType):
        if not isinstance(value, tuple) or len(value) != len(expected.items):
            return f"expected a tuple of {len(expected.items)}, got {describe(value)}{at}"
        for i, (v, t) in enumerate(zip(value, expected.items)):
            why = check_type(v, t, dims, effective, f"{where}[{i}]" if where else f"[{i}]")
            if why:
                return why
        return None
    if isinstance(expected, TensorType):
        want = f"{_type_text(expected, dims, effective)}"
        if not isinstance(value, np.ndarray):
            return f"expected a {want} tensor, got {describe(value)}{at}"
        if value.dtype.name != effective(expected.dtype).value:
            return f"dtype {value.dtype.name}, but the declared type is {want}{at}"
        if value.ndim != expected.rank:
            return f"shape {tuple(value.shape)}, but the declared type is {want}{at}"
        for actual, d in zip(value.shape, expected.shape):
            size = dims.get(d) if isinstance(d, str) else d
            if size is not None and actual != size:
                return f"shape {tuple(value.shape)}, but the declared type is {want}{at}"
        return None
    if isinstance(expected, ScalarType):
        py = {"float": float, "int": int, "bool": bool, "str": str}.get(expected.kind)
        if expected.kind == "none":
            return None if value is None else f"expected None, got {describe(value)}{at}"
        if py is None:
            return None
        ok = isinstance(value, py) and (py is bool or not isinstance(value, bool))
        return None if ok else f"expected a Python {expected.kind}, got {describe(value)}{at}"
    return None


def _tolerance(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    names = {a.dtype.name, b.dtype.name}
    if "float32" in names or "float16" in names:
        return TOLERANCES["float32"]
    return TOLERANCES["float64"]


def compare_arrays(actual: np.ndarray, reference: np.ndarray, noise: np.ndarray | None = None) -> Verdict:
    """Values of two same-shaped arrays: exact for ints and bools, tolerances for floats, NaN == NaN.

    `noise` (per element) is how much the reference itself moves when its inputs are perturbed by
    a few units in the last place; NOISE_FACTOR times that is added to the tolerance, so that an
    ill-conditioned function (a gradient that is pure cancellation) is not reported as a mismatch.
    """
    v = Verdict()
    if actual.shape != reference.shape:
        return v.fail(f"shape {tuple(actual.shape)}, but the reference has {tuple(reference.shape)}")
    floats = actual.dtype.kind in "fc" or reference.dtype.kind in "fc"
    if not floats:
        a, b = actual.astype(np.int64), reference.astype(np.int64)
        bad = a != b
        if bad.any():
            i = tuple(int(x) for x in np.argwhere(bad)[0])
            v.max_abs = float(np.abs(a - b).max())
            return v.fail(f"{int(bad.sum())} of {bad.size} values differ; at {i}: {a[i]} vs reference {b[i]}")
        return v
    rtol, atol = _tolerance(actual, reference)
    a, b = actual.astype(np.float64), reference.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(b)
    same = (a == b) | both_nan  # equal infinities too
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.where(same, 0.0, np.abs(a - b))
        diff = np.where(np.isnan(diff), np.inf, diff)  # NaN against a number is a full mismatch
        rel = np.where(np.abs(b) > atol, diff / np.where(np.abs(b) > atol, np.abs(b), 1.0), 0.0)
        allowed = atol + rtol * np.abs(np.where(np.isfinite(b), b, 0.0))
        if noise is not None and noise.shape == diff.shape:
            allowed = allowed + NOISE_FACTOR * np.nan_to_num(noise, nan=0.0, posinf=0.0)
        bad = diff > allowed
    if diff.size:
        v.max_abs = float(diff.max())
        v.max_rel = float(rel.max())
    if bad.any():
        i = tuple(int(x) for x in np.argwhere(bad)[0])
        return v.fail(f"{int(bad.sum())} of {bad.size} values differ beyond rtol={rtol:g}, atol={atol:g}; "
                      f"at {i}: {a[i]!r} vs reference {b[i]!r}")
    return v


def compare_values(actual: Any, reference: Any, where: str = "", noise: Any = None) -> Verdict:
    """Compare outputs of the same declared type (arrays, Python scalars, tuples of them); `noise` as
    in `compare_arrays`, with the structure of `reference`."""
    at = f" (output {where})" if where else ""
    v = Verdict()
    if isinstance(reference, tuple) or isinstance(actual, tuple):
        if not (isinstance(reference, tuple) and isinstance(actual, tuple)) or len(actual) != len(reference):
            return v.fail(f"got {describe(actual)}, the reference gave {describe(reference)}{at}")
        noises = noise if isinstance(noise, tuple) and len(noise) == len(reference) else (None,) * len(reference)
        for i, (x, y, z) in enumerate(zip(actual, reference, noises)):
            v.absorb(compare_values(x, y, f"{where}[{i}]" if where else f"[{i}]", z))
        return v
    if actual is None or reference is None:
        return v if actual is None and reference is None else v.fail(f"got {describe(actual)}, the reference gave {describe(reference)}{at}")
    if isinstance(reference, np.ndarray) != isinstance(actual, np.ndarray):
        return v.fail(f"got {describe(actual)}, the reference gave {describe(reference)}{at}")
    if isinstance(reference, str) or isinstance(actual, str):  # strings are equal or not
        return v if actual == reference else v.fail(f"got {actual!r}, the reference gave {reference!r}{at}")
    if isinstance(reference, np.ndarray):
        out = compare_arrays(actual, reference, noise if isinstance(noise, np.ndarray) else None)
    else:
        a = np.asarray(actual, dtype=np.float64 if isinstance(actual, float) else np.int64)
        b = np.asarray(reference, dtype=np.float64 if isinstance(reference, float) else np.int64)
        if isinstance(actual, float) or isinstance(reference, float):
            a, b = a.astype(PYTHON_FLOAT), b.astype(PYTHON_FLOAT)
        out = compare_arrays(a, b, np.asarray(noise, dtype=np.float64) if isinstance(noise, (float, np.ndarray)) else None)
    if not out.ok and at:
        out.message += at
    return out


def difference(a: Any, b: Any) -> Any:
    """|a - b| with the structure of `b` (float leaves only; None where the structures differ)."""
    if isinstance(b, tuple):
        if not isinstance(a, tuple) or len(a) != len(b):
            return None
        return tuple(difference(x, y) for x, y in zip(a, b))
    if isinstance(b, np.ndarray) and isinstance(a, np.ndarray) and a.shape == b.shape and b.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            return np.abs(a.astype(np.float64) - b.astype(np.float64))
    if isinstance(b, float) and isinstance(a, float):
        return abs(a - b)
    return None


def widest(a: Any, b: Any) -> Any:
    """Elementwise maximum of two `difference` results."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, tuple) and isinstance(b, tuple):
        return tuple(widest(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape:
        return np.fmax(a, b)
    if isinstance(a, float) and isinstance(b, float):
        return max(a, b)
    return None
