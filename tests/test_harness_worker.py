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


@pytest.mark.parametrize("a", [
    np.arange(6, dtype=np.float32).reshape(2, 3).T, np.array(2.5), np.array([True, False]), np.zeros((0, 3), np.int32),
    np.array([[np.nan, np.inf], [-np.inf, -0.0]], np.float64), np.arange(4, dtype=np.int64)[::2], np.float32(1.5),
    np.array([1 + 2j], np.complex64), np.arange(3, dtype=">i4"), np.array(["ab", "c"]),
])
def test_raw_array_round_trip(a):
    """Numeric arrays travel as raw bytes (dtype, shape and bits kept, strides made C order), others as .npy."""
    blobs: list[bytes] = []
    tag = pack_value(a, blobs)
    assert ("dtype" in tag) == (np.asarray(a).dtype.kind != "U")
    b = unpack_value(tag, blobs)
    assert isinstance(b, np.ndarray) and b.dtype == np.asarray(a).dtype and b.shape == np.shape(a)
    assert b.flags.writeable and b.flags.c_contiguous
    np.testing.assert_array_equal(a, b)
    assert np.asarray(a).tobytes() == b.tobytes()  # every bit: -0.0 and NaN payloads too


def test_object_arrays_are_refused():
    with pytest.raises(ValueError):
        array_to_bytes(np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError):
        pack_value(np.array([{"a": 1}], dtype=object), [])
    with pytest.raises(ValueError):  # a raw tag never names an object dtype
        unpack_value({"array": 0, "dtype": "|O", "shape": [1]}, [b"\0" * 8])


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


# ---- batched requests ------------------------------------------------------------------------------------
def test_a_batch_answers_every_call_in_order(worker):
    calls = [("scale", [np.arange(3.0), 2.0]), ("boom", [np.ones(2)]), ("shape_of", [np.ones((4, 1))]),
             ("scale", [np.ones(1), -1.0])]
    replies = worker.call_batch("numpy", "m", calls)
    assert len(replies) == 4
    np.testing.assert_array_equal(replies[0].value[0], [0.0, 2.0, 4.0])
    assert isinstance(replies[1], CallFailed) and "ValueError: bad input" in str(replies[1])
    assert "raise ValueError" in replies[1].traceback  # the same report as a single call
    assert replies[2].value == (4, 1) and replies[3].value[1] == 1.0 and replies[3].value[0][0] == -1.0
    assert worker.stats.restarts == 0


def test_a_batch_ends_at_a_crash_or_hang_and_the_worker_restarts(worker):
    ok = ("scale", [np.ones(1), 1.0])
    replies = worker.call_batch("numpy", "m", [ok, ("crash", [np.ones(1)]), ok])
    assert len(replies) == 2 and replies[0].value[1] == 1.0
    assert isinstance(replies[1], WorkerError) and "exit status 3" in str(replies[1])
    t0 = time.perf_counter()
    replies = worker.call_batch("numpy", "m", [ok, ("hang", [np.ones(1)]), ok], timeout=1.0)
    assert time.perf_counter() - t0 < 10  # each call has its own deadline, not the whole batch
    assert len(replies) == 2 and isinstance(replies[1], WorkerError) and "time limit" in str(replies[1])
    assert worker.call_batch("numpy", "m", [ok])[0].value[1] == 1.0
    assert worker.stats.restarts == 2


def test_a_batch_on_a_broken_setup_fails_every_call(worker):
    worker.add_target(TargetSetup("broken", "import no_such_framework_xyz", "a", "t"))
    worker.add_module("broken", "m", MODULE)
    replies = worker.call_batch("broken", "m", [("scale", [np.ones(1), 1.0])] * 3)
    assert len(replies) == 3 and all(isinstance(r, CallFailed) and "no_such_framework_xyz" in str(r) for r in replies)


# ---- JAX through jit ---------------------------------------------------------------------------------------
JAX_TARGET = TargetSetup("jax", "import jax, jax.numpy as jnp", "jnp.asarray(a)", "t", jit="jax")
JAX_EAGER = TargetSetup("jax", "import jax, jax.numpy as jnp", "jnp.asarray(a)", "t")
JAX_MODULE = '''
import jax, jax.numpy as jnp

def softmax_grad(x, w, s):
    f = lambda x: jnp.sum(jax.nn.softmax(jnp.tanh(x @ w) * s, axis=-1) ** 2)
    return jax.grad(f)(x)

def count_rows(x):
    return x.shape[0]  # a Python int: jit would turn it into an array

def relu_if_positive_sum(x):
    if float(jnp.sum(x)) > 0:  # needs the value: cannot be traced
        return jnp.maximum(x, 0)
    return -x

def repeat(x, n):
    return jnp.tile(x, n)  # an int that must stay static
'''


def _jax_worker(setup: TargetSetup) -> WorkerClient:
    w = WorkerClient(sys.executable, env={"JAX_PLATFORMS": "cpu"}, call_timeout=60, start_timeout=120)
    w.add_target(setup)
    w.add_module("jax", "m", JAX_MODULE)
    return w


JAX_CALLS = [("softmax_grad", [np.random.default_rng(i).uniform(-2, 2, (n, 3)).astype(np.float32),
                               np.random.default_rng(9).uniform(-1, 1, (3, 4)).astype(np.float32), 0.5 + i])
             for i, n in enumerate((2, 5, 2, 3))] + \
    [("count_rows", [np.ones((3, 2), np.float32)]), ("relu_if_positive_sum", [np.array([1.0, -2.0, 3.0], np.float32)]),
     ("relu_if_positive_sum", [np.array([-1.0, -2.0], np.float32)]), ("repeat", [np.arange(2.0, dtype=np.float32), 3])]


def _assert_same_results(values: list, expected: list) -> None:
    """The traced path's results: the eager path's types, dtypes and shapes, and its values within float32 rounding."""
    for got, want in zip(values, expected):
        assert type(got) is type(want)
        if isinstance(want, np.ndarray):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
        else:
            assert got == want


def test_jitted_jax_computes_what_eager_jax_computes():
    """Values, types and shapes of the jitted path equal the eager path's (within float32 rounding)."""
    pytest.importorskip("jax")
    outputs = {}
    for setup in (JAX_TARGET, JAX_EAGER):
        with _jax_worker(setup) as w:
            replies = w.call_batch("jax", "m", JAX_CALLS, jit=True)
        assert all(not isinstance(r, Exception) for r in replies), replies
        outputs[setup.jit] = ([r.value for r in replies], [r.header["jitted"] for r in replies])
    (values, jitted), (expected, eager_jitted) = outputs["jax"], outputs[None]
    _assert_same_results(values, expected)
    assert jitted[:4] == [True] * 4 and jitted[7]  # traced: floats as tracers, the int as a static argument
    assert not any(jitted[4:7])  # a Python int result, and value-dependent control flow: eager
    assert not any(eager_jitted)
    with _jax_worker(JAX_TARGET) as w:  # a request that does not ask for jit (model checks, notebooks) runs eagerly
        assert not w.call("jax", "m", "softmax_grad", JAX_CALLS[0][1]).header["jitted"]
        assert w.call("jax", "m", "softmax_grad", JAX_CALLS[0][1], jit=True).header["jitted"]


# ---- TensorFlow through tf.function ---------------------------------------------------------------------
TF_SETUP = "import tensorflow as tf"
TF_TARGET = TargetSetup("tensorflow", TF_SETUP, "tf.constant(a)", "t.numpy()", jit="tensorflow")
TF_EAGER = TargetSetup("tensorflow", TF_SETUP, "tf.constant(a)", "t.numpy()")
TF_MODULE = '''
import tensorflow as tf

def softmax_grad(x, w, s):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.nn.softmax(tf.tanh(x @ w) * s, axis=-1) ** 2)
    return tape.gradient(y, x)

def count_rows(x):
    for _ in range(200):  # slow enough eagerly to be traced
        x = tf.tanh(x)
    return x.shape[0]  # a Python int: tf.function would give it back as is, but it is no tensor

def relu_if_positive_sum(x):
    for _ in range(200):
        x = tf.sin(x)
    if tf.reduce_sum(x) > 0:  # Python control flow on a tensor: no autograph, the trace fails
        return tf.maximum(x, 0.0)
    return -x
'''
_W = np.random.default_rng(9).uniform(-1, 1, (3, 4)).astype(np.float32)
TF_CALLS = [("softmax_grad", [np.random.default_rng(i).uniform(-2, 2, (2, 3)).astype(np.float32), _W, 0.5])
            for i in range(20)] + \
    [("softmax_grad", [np.ones((5, 3), np.float32), _W, 0.5])] + \
    [("count_rows", [np.full((3, 2), 0.1 * i, np.float32)]) for i in range(20)] + \
    [("relu_if_positive_sum", [np.full((3,), 0.1 * i - 1, np.float32)]) for i in range(20)]


def test_traced_tensorflow_computes_what_eager_tensorflow_computes():
    """tf.function per input signature, where a request repeats it: the values, types and shapes of eager TF;
    a signature seen once, a non-tensor result and value-dependent control flow run eagerly."""
    pytest.importorskip("tensorflow")
    outputs = {}
    for setup in (TF_TARGET, TF_EAGER):
        # the cut-off on the second eager call's CPU time at 1 ns: which calls are traced must not depend on this
        # machine's speed (a quiet machine ran the softmax gradient under 1.5 ms and traced nothing)
        w = WorkerClient(sys.executable, env={"CUDA_VISIBLE_DEVICES": "", "D2LC_TRACE_MIN_EAGER_S": "1e-9"},
                         call_timeout=120, start_timeout=180)
        w.add_target(setup)
        w.add_module("tensorflow", "m", TF_MODULE)
        with w:
            replies = w.call_batch("tensorflow", "m", TF_CALLS, jit=True)
            if setup.jit:
                single = w.call("tensorflow", "m", "softmax_grad", TF_CALLS[0][1], jit=True)
        assert all(not isinstance(r, Exception) for r in replies), replies
        outputs[setup.jit] = ([r.value for r in replies], [r.header["jitted"] for r in replies])
    (values, jitted), (expected, eager_jitted) = outputs["tensorflow"], outputs[None]
    _assert_same_results(values, expected)
    grads = jitted[:20]
    assert not any(grads[:2]) and all(grads[2:]), grads  # two eager calls (the second timed), then traced
    assert not jitted[20]  # one call of a shape: tracing would not pay
    assert not any(jitted[21:])  # a Python int result, and control flow on a tensor's value: eager
    assert not any(eager_jitted)
    assert single.header["jitted"]  # a traced signature stays traced, in later requests too


def test_a_module_loaded_again_is_traced_again():
    """Loading other code under a module's key drops what was traced for it: no stale traced function."""
    pytest.importorskip("jax")
    x = [np.ones((2, 3), np.float32)]
    with _jax_worker(JAX_TARGET) as w:
        first = w.call("jax", "m", "count_rows", x, jit=True)
        w.add_module("jax", "m", JAX_MODULE.replace("return x.shape[0]", "return x * 2"))
        again = w.call("jax", "m", "count_rows", x, jit=True)
    assert first.value == 2 and not first.header["jitted"]
    assert again.header["jitted"] and np.array_equal(again.value, 2 * x[0])
