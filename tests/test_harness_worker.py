"""The equivalence worker: wire format, and surviving crashes and hangs."""
import io
import sys
import time

import numpy as np
import pytest

from d2lc.harness.client import CallFailed, TargetSetup, WorkerClient, WorkerError
from d2lc.harness.worker import array_from_bytes, array_to_bytes, encode_message, pack_value, read_message, unpack_value

NUMPY_TARGET = TargetSetup("numpy", "import numpy as np", "a", "np.asarray(t)")
MODULE = '''
import os, time
import numpy as np

def scale(x, s):
    print("generated code may print; the protocol must not notice")
    return x * s, x.sum()

def hang(x):
    time.sleep(1000)

def crash(x):
    os._exit(3)

def boom(x):
    raise ValueError("bad input")

def nothing(x):
    return None

def shape_of(x):
    return x.shape
'''


@pytest.mark.parametrize("a", [
    np.arange(6, dtype=np.float32).reshape(2, 3), np.array(2.5), np.array([True, False]), np.zeros((0, 3), np.int32),
    np.array([[np.nan, np.inf], [-np.inf, -0.0]], np.float64), np.arange(4, dtype=np.int64)[::2],
])
def test_npy_round_trip(a):
    b = array_from_bytes(array_to_bytes(a))
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(a, b)


def test_object_arrays_are_refused():
    with pytest.raises(ValueError):
        array_to_bytes(np.array([{"a": 1}], dtype=object))


def test_message_round_trip():
    blobs: list[bytes] = []
    value = (np.ones((2, 2), np.float32), 3, 1.5, True, None, [np.array(7)])
    tag = pack_value(value, blobs)
    header, got = read_message(io.BytesIO(encode_message({"op": "x", "v": tag}, blobs)))
    back = unpack_value(header["v"], got)
    assert header["op"] == "x" and header["nblobs"] == len(blobs) == 2
    np.testing.assert_array_equal(back[0], value[0])
    assert back[1:5] == (3, 1.5, True, None) and isinstance(back[1], int) and isinstance(back[3], bool)
    assert back[5][0].item() == 7


def test_float_scalars_keep_every_bit():
    blobs: list[bytes] = []
    for v in (0.1, float("nan"), float("-inf"), 1e-300):
        back = unpack_value(pack_value(v, blobs), blobs)
        assert back == v or (np.isnan(back) and np.isnan(v))


@pytest.fixture
def worker():
    w = WorkerClient(sys.executable, call_timeout=3, start_timeout=60)
    w.add_target(NUMPY_TARGET)
    w.add_module("numpy", "m", MODULE)
    yield w
    w.close()


def test_call_returns_arrays_and_scalars(worker):
    reply = worker.call("numpy", "m", "scale", [np.arange(3.0), 2.0])
    out, total = reply.value
    np.testing.assert_array_equal(out, [0.0, 2.0, 4.0])
    assert total == 3.0
    assert reply.roundtrip_s > 0 and "compute_s" in reply.header
    assert worker.call("numpy", "m", "nothing", [np.ones(1)]).value is None
    assert worker.call("numpy", "m", "shape_of", [np.ones((2, 5))]).value == (2, 5)


def test_zero_dim_arrays_stay_zero_dim(worker):
    out, total = worker.call("numpy", "m", "scale", [np.array(2.0, np.float32), 3.0]).value
    assert out.shape == () and out.dtype == np.float32 and out == 6.0


def test_exceptions_come_back_with_traceback(worker):
    with pytest.raises(CallFailed) as info:
        worker.call("numpy", "m", "boom", [np.ones(2)])
    assert "ValueError: bad input" in str(info.value)
    assert "raise ValueError" in info.value.traceback
    assert worker.stats.restarts == 0  # an exception does not cost a restart
    assert worker.call("numpy", "m", "scale", [np.ones(1), 1.0]).value[1] == 1.0


def test_hung_worker_is_killed_and_restarted(worker):
    worker.call("numpy", "m", "scale", [np.ones(1), 1.0])
    pid = worker.proc.pid
    t0 = time.perf_counter()
    with pytest.raises(WorkerError, match="time limit"):
        worker.call("numpy", "m", "hang", [np.ones(1)], timeout=1.0)
    assert time.perf_counter() - t0 < 10
    out = worker.call("numpy", "m", "scale", [np.ones(2), 3.0]).value  # setup and module are replayed
    np.testing.assert_array_equal(out[0], [3.0, 3.0])
    assert worker.proc.pid != pid and worker.stats.restarts == 1 and worker.stats.timeouts == 1


def test_crashed_worker_is_restarted(worker):
    with pytest.raises(WorkerError, match="exit status 3"):
        worker.call("numpy", "m", "crash", [np.ones(1)])
    assert worker.call("numpy", "m", "scale", [np.ones(1), 2.0]).value[1] == 1.0
    assert worker.stats.crashes == 1 and worker.stats.restarts == 1


def test_bad_setup_is_reported(worker):
    worker.add_target(TargetSetup("broken", "import no_such_framework_xyz", "a", "t"))
    with pytest.raises(CallFailed, match="no_such_framework_xyz"):
        worker.ensure("broken")


def test_probe_reports_missing_packages(worker):
    reply = worker.probe(["numpy", "no_such_framework_xyz"])
    assert reply["packages"]["numpy"]["ok"] and not reply["packages"]["no_such_framework_xyz"]["ok"]
