"""The comparison rules: declared types first, then values under the tolerance table."""
import numpy as np

from d2lc.harness.compare import check_type, compare_values
from d2lc.core.types import FLOAT, INT, DType, SeqType, TensorType

F32 = TensorType(DType.float32, ("n", 2))


def test_declared_dtype_and_shape():
    a = np.zeros((3, 2), np.float32)
    assert check_type(a, F32, {"n": 3}) is None
    assert "dtype float64" in check_type(a.astype(np.float64), F32, {"n": 3})
    assert "shape (2, 2)" in check_type(a[:2], F32, {"n": 3})
    assert "Python float" in check_type(a, FLOAT, {})
    assert check_type(2, INT, {}) is None and check_type(True, INT, {}) is not None
    assert check_type((a, 1.0), SeqType((F32, FLOAT)), {"n": 3}) is None


def test_narrowed_dtype_for_targets_that_compute_narrower():
    a = np.zeros(3, np.int32)
    t = TensorType(DType.int64, ("n",))
    narrow = {DType.int64: DType.int32}
    assert check_type(a, t, {"n": 3}, lambda d: narrow.get(d, d)) is None
    assert check_type(a, t, {"n": 3}) is not None


def test_float32_tolerance():
    ref = np.array([1.0, 100.0], np.float32)
    assert compare_values(ref * (1 + 5e-5), ref).ok
    v = compare_values(ref * (1 + 5e-4), ref)
    assert not v.ok and "rtol=0.0001" in v.message and v.max_rel > 1e-4


def test_float64_tolerance_is_tighter():
    ref = np.array([1.0], np.float64)
    assert compare_values(ref + 1e-12, ref).ok
    assert not compare_values(ref + 1e-7, ref).ok
    assert compare_values((ref + 1e-7).astype(np.float32), ref).ok  # a float32 side gets float32 tolerance


def test_nan_equal_and_infinities():
    ref = np.array([np.nan, np.inf, -np.inf, 1.0])
    assert compare_values(ref.copy(), ref).ok
    assert not compare_values(np.array([1.0, np.inf, -np.inf, 1.0]), ref).ok
    assert not compare_values(np.array([np.nan, -np.inf, -np.inf, 1.0]), ref).ok


def test_ints_and_bools_are_exact():
    assert compare_values(np.array([1, 2], np.int32), np.array([1, 2], np.int64)).ok
    v = compare_values(np.array([1, 3]), np.array([1, 2]))
    assert not v.ok and "1 of 2 values differ" in v.message
    assert not compare_values(np.array([True, False]), np.array([True, True])).ok


def test_structure_mismatch():
    assert not compare_values(None, np.zeros(1)).ok
    assert not compare_values((np.zeros(1),), (np.zeros(1), np.zeros(1))).ok
    assert compare_values((1, 2.0), (1, 2.0)).ok


def test_noise_floor_widens_the_tolerance():
    ref = np.array([0.0, 1.0], np.float32)
    got = np.array([3e-5, 1.0], np.float32)
    assert not compare_values(got, ref).ok
    assert compare_values(got, ref, noise=np.array([1e-5, 0.0])).ok  # 4 x the reference's own wobble
    assert not compare_values(np.array([1.0, 1.0]), ref, noise=np.array([1e-5, 0.0])).ok
