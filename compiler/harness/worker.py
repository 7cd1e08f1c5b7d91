#!/usr/bin/env python
"""The equivalence worker: a long-lived process that runs compiled functions for one environment.

Standalone on purpose (stdlib + NumPy only, no d2lc): it runs under every environment's own
python, including MXNet's, where d2lc is not installed. The client imports the framing helpers
from this same file, so both sides share one definition of the wire format.

Wire format, both directions: a message is a header frame followed by `header["nblobs"]` blob
frames; a frame is an 8-byte big-endian length and that many bytes. The header is UTF-8 JSON;
blobs are arrays: a numeric or bool array is its raw C-order bytes, its tag naming dtype and shape
(`np.save`'s header costs more than a small array's compute); any other dtype is saved with `np.save`
(allow_pickle=False on both sides, never pickle: object arrays are refused).
Values inside headers are tagged: {"array": i, "dtype": str, "shape": [...]} (blob i, raw bytes), {"array": i}
(blob i, .npy bytes), {"scalar": v, "kind": "int"|"float"|"bool"},
{"none": true}, {"seq": [values], "kind": "tuple"|"list"}.

Requests (`op`): probe, setup, load, call, batch, exit. Every reply has `ok`; failures carry
`error` (one line) and `traceback`. A `batch` request carries many calls of one module
(`calls`: [{"function", "args"}], their arrays in one blob list) and is answered by one reply
per call, in order, each sent as soon as it is computed (so the client keeps a deadline per call).

A target set up with `jit: "jax"` or `jit: "tensorflow"` runs each function of a request with `jit: true` through
`jax.jit` or `tf.function`, traced once per input signature where the request repeats it often enough
(jitcalls.py, beside this file); a function that cannot be traced, or that returns anything but the
framework's tensors, runs eagerly, as does every call whose traced run raises (its eager run then
decides the outcome).
"""
import io
import json
import linecache
import os
import signal
import struct
import sys
import threading
import time
import traceback

import numpy as np

if __package__:  # imported by the client
    from .jitcalls import Jitter, call_signature
else:  # run as a script (under environments without d2lc too): the file beside this one
    from jitcalls import Jitter, call_signature

_LEN = struct.Struct(">Q")


# ---- framing (shared with the client) -------------------------------------------------------------
def array_to_bytes(a):
    """An array as .npy bytes."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def array_from_bytes(data):
    """An array from .npy bytes (never unpickles)."""
    return np.load(io.BytesIO(data), allow_pickle=False)


def encode_message(header, blobs=()):
    """Bytes of one message: the JSON header, then each blob, each length-prefixed."""
    header = dict(header, nblobs=len(blobs))
    parts = [json.dumps(header).encode("utf-8")] + [bytes(b) for b in blobs]
    return b"".join(_LEN.pack(len(p)) + p for p in parts)


def _read_exact(stream, n):
    chunks = []
    while n:
        chunk = stream.read(n)
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(stream):
    (n,) = _LEN.unpack(_read_exact(stream, _LEN.size))
    return _read_exact(stream, n)


def read_message(stream):
    """(header, blobs) of the next message; EOFError when the stream is closed."""
    header = json.loads(read_frame(stream).decode("utf-8"))
    blobs = [read_frame(stream) for _ in range(header.get("nblobs", 0))]
    return header, blobs


# ---- values -------------------------------------------------------------------------------------------
def pack_array(a, blobs):
    """Append an array to `blobs` and return its tag: raw bytes for numeric and bool dtypes, else .npy bytes."""
    a = np.asarray(a)
    if a.dtype.kind in _RAW_KINDS:
        blobs.append(a.tobytes())  # C order whatever the strides
        return {"array": len(blobs) - 1, "dtype": a.dtype.str, "shape": list(a.shape)}
    blobs.append(array_to_bytes(a))
    return {"array": len(blobs) - 1}


_RAW_KINDS = frozenset("biufc")  # bool, signed and unsigned ints, floats, complex


def pack_value(v, blobs):
    """Tag a NumPy/Python value for a header, appending arrays (NumPy scalars too) to `blobs`."""
    if v is None:
        return {"none": True}
    if isinstance(v, np.generic):  # before the Python types: np.float64 is a float
        return pack_array(v, blobs)
    if isinstance(v, bool):
        return {"scalar": v, "kind": "bool"}
    if isinstance(v, int):
        return {"scalar": v, "kind": "int"}
    if isinstance(v, float):
        return {"scalar": repr(v), "kind": "float"}  # repr keeps nan/inf and every bit
    if isinstance(v, str):
        return {"scalar": v, "kind": "str"}
    if isinstance(v, (tuple, list)):
        return {"seq": [pack_value(i, blobs) for i in v], "kind": "tuple" if isinstance(v, tuple) else "list"}
    return pack_array(v, blobs)


def unpack_value(tag, blobs):
    """Inverse of `pack_value`: arrays come back as NumPy arrays, scalars as Python scalars."""
    if "none" in tag:
        return None
    if "array" in tag:
        if "dtype" not in tag:
            return array_from_bytes(blobs[tag["array"]])
        dtype = np.dtype(tag["dtype"])
        if dtype.kind not in _RAW_KINDS:
            raise ValueError("refusing a raw array of dtype %r" % tag["dtype"])
        # A writable copy: frameworks may share the memory of the arrays they are given.
        return np.frombuffer(bytearray(blobs[tag["array"]]), dtype=dtype).reshape(tag["shape"])
    if "seq" in tag:
        items = [unpack_value(i, blobs) for i in tag["seq"]]
        return tuple(items) if tag.get("kind") == "tuple" else items
    kind, v = tag["kind"], tag["scalar"]
    if kind == "str":
        return str(v)
    return float(v) if kind == "float" else (bool(v) if kind == "bool" else int(v))


# ---- worker state --------------------------------------------------------------------------------------
# Which GPU a framework sees, by its first package name (for --device=auto).
GPU_PROBES = {
    "torch": "import torch\nresult = torch.cuda.is_available()",
    "jax": "import jax\nresult = any(d.platform in ('gpu', 'cuda', 'rocm') for d in jax.devices())",
    "tensorflow": "import tensorflow as tf\nresult = bool(tf.config.list_physical_devices('GPU'))",
    "mxnet": "import mxnet as mx\nresult = mx.context.num_gpus() > 0",
}


def _sticky_get():
    """Process-wide switches that generated code may flip at import time (JAX's 64-bit mode)."""
    jax = sys.modules.get("jax")
    if jax is None:
        return {}
    try:
        return {"jax_enable_x64": bool(jax.config.jax_enable_x64)}
    except Exception:
        return {}


def _sticky_set(flags):
    jax = sys.modules.get("jax")
    for name, value in flags.items():
        if name.startswith("jax_") and jax is not None and getattr(jax.config, name, value) != value:
            jax.config.update(name, value)


_STICKY_DEFAULTS = {"jax_enable_x64": False}


class Worker:
    def __init__(self):
        self.targets = {}  # name -> {"ns", "to_native", "to_numpy"}
        self.modules = {}  # (target, key) -> namespace
        self.flags = {}  # (target, key) -> sticky switches as the module left them
        self.jitters = {}  # target -> its Jitter (targets set up with a jit kind)

    def handle(self, header, blobs):
        op = header.get("op")
        method = getattr(self, "op_" + str(op), None)
        if method is None:
            raise ValueError("unknown request %r" % (op,))
        return method(header, blobs)

    def op_probe(self, header, blobs):
        """Import-check packages; report versions and, if asked, whether the framework sees a GPU."""
        out = {}
        for pkg in header.get("packages", []):
            try:
                mod = __import__(pkg)
                out[pkg] = {"ok": True, "version": str(getattr(mod, "__version__", ""))}
            except BaseException as exc:  # an import can fail in any way (ImportError, OSError, ...)
                out[pkg] = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        gpu = None
        first = (header.get("packages") or [None])[0]
        if header.get("gpu") and first in GPU_PROBES and out.get(first, {}).get("ok"):
            ns = {}
            try:
                exec(GPU_PROBES[first], ns)
                gpu = bool(ns.get("result"))
            except BaseException:
                gpu = False
        return {"ok": True, "packages": out, "gpu": gpu}, []

    def op_setup(self, header, blobs):
        """Run a target's harness setup once, with DEVICE set, and compile its converters."""
        name = header["target"]
        ns = {"DEVICE": header.get("device", "cpu"), "__name__": "d2lc_harness_" + name}
        exec(compile(header.get("setup") or "", "<setup %s>" % name, "exec"), ns)
        to_native = eval(compile("lambda a: (%s)" % header["to_native"], "<to_native %s>" % name, "eval"), ns)
        to_numpy = eval(compile("lambda t: (%s)" % header["to_numpy"], "<to_numpy %s>" % name, "eval"), ns)
        self.targets[name] = {"ns": ns, "to_native": to_native, "to_numpy": to_numpy, "jit": header.get("jit")}
        if header.get("jit"):
            self.jitters[name] = Jitter(header["jit"])
        _precise_math()
        return {"ok": True}, []

    def op_load(self, header, blobs):
        """Exec a generated module's source into a fresh namespace."""
        target, key = header["target"], header["module"]
        if target not in self.targets:
            raise RuntimeError("target %r is not set up" % target)
        _sticky_set(_STICKY_DEFAULTS)  # every module starts from the frameworks' defaults
        if target in self.jitters:
            self.jitters[target].forget(key)
        ns = {"__name__": "d2lc_generated_%s_%s" % (target, key)}
        filename = header.get("filename") or "<generated %s %s>" % (target, key)
        source = header["source"]
        # Tracebacks then show the generated lines that failed.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        t0 = time.perf_counter()
        exec(compile(source, filename, "exec"), ns)
        self.modules[(target, key)] = ns
        self.flags[(target, key)] = _sticky_get()
        return {"ok": True, "load_s": time.perf_counter() - t0}, []

    def op_call(self, header, blobs):
        """Call one function: NumPy inputs -> native tensors -> function -> NumPy outputs."""
        out_blobs = []
        reply = self._call_one(header["target"], header["module"], header["function"], header.get("args", []), blobs,
                               out_blobs, header.get("jit"))
        return reply, out_blobs

    def op_batch(self, header, blobs):
        """Many calls of one module: yields (reply, blobs) per call, in order; a failing call fails alone."""
        target, key = header["target"], header["module"]
        calls = header.get("calls", [])
        jitter = self.jitters.get(target) if header.get("jit") else None
        signatures = [call_signature(c["function"], c.get("args", []), jitter.kind) if jitter else None for c in calls]
        repeats = {}
        for sig in signatures:
            repeats[sig] = repeats.get(sig, 0) + 1
        for i, call in enumerate(calls):
            out_blobs = []
            try:
                reply = self._call_one(target, key, call["function"], call.get("args", []), blobs, out_blobs,
                                       header.get("jit"), (signatures[i], repeats[signatures[i]]))
            except BaseException as exc:  # the same report as a failing single call
                if isinstance(exc, KeyboardInterrupt):
                    raise
                reply, out_blobs = _failure(exc), []
            reply["index"] = i
            yield reply, out_blobs

    def _call_one(self, target, key, fname, arg_tags, blobs, out_blobs, jit=False, repeated=None):
        """One call; `repeated`: (its trace signature, how many calls of it the request holds)."""
        conv = self.targets[target]
        ns = self.modules.get((target, key))
        if ns is None:
            raise RuntimeError("module %r is not loaded for %r" % (key, target))
        fn = ns.get(fname)
        if fn is None:
            raise NameError("the generated module has no function %r" % fname)
        _sticky_set(self.flags.get((target, key), {}))
        t0 = time.perf_counter()
        args = [self._to_native(conv, unpack_value(tag, blobs)) for tag in arg_tags]
        t1 = time.perf_counter()
        jitted = False
        jitter = self.jitters.get(target) if jit else None
        if jitter is not None:
            signature, repeats = repeated or (call_signature(fname, arg_tags, jitter.kind), 1)
            jitted, result = jitter.call(key, fname, fn, args, signature, repeats)
        else:
            result = fn(*args)
        packed = pack_value(self._export(conv, result), out_blobs)
        t2 = time.perf_counter()
        return {"ok": True, "result": packed, "convert_s": t1 - t0, "compute_s": t2 - t1, "jitted": jitted}

    def op_exit(self, header, blobs):
        return {"ok": True, "exit": True}, []

    @staticmethod
    def _to_native(conv, v):
        if isinstance(v, np.ndarray):
            # np.ascontiguousarray would turn a 0-d array into shape (1,)
            return conv["to_native"](v if v.flags.c_contiguous else np.ascontiguousarray(v))
        return v

    def _export(self, conv, v):
        """A function's result as NumPy arrays / Python scalars / tuples (a NumPy scalar becomes a 0-d array)."""
        if isinstance(v, np.generic):
            return np.asarray(v)
        if v is None or isinstance(v, (bool, int, float, str, np.ndarray)):
            return v
        if isinstance(v, (tuple, list)):
            return tuple(self._export(conv, i) for i in v)
        try:
            return np.asarray(conv["to_numpy"](v))
        except Exception:
            if hasattr(v, "__iter__") and hasattr(v, "__len__"):  # e.g. tf.TensorShape
                return tuple(self._export(conv, i) for i in v)
            raise


def _failure(exc):
    """The reply to a request (or a call of a batch) that raised."""
    return {"ok": False, "error": _one_line(exc), "traceback": traceback.format_exc()}


def _precise_math():
    """No reduced-precision matmuls anywhere (TF32 on Ampere+, JAX's default bf16 passes)."""
    mods = sys.modules
    try:
        if "jax" in mods:
            mods["jax"].config.update("jax_default_matmul_precision", "highest")
        if "torch" in mods:
            mods["torch"].backends.cuda.matmul.allow_tf32 = False
            mods["torch"].backends.cudnn.allow_tf32 = False
        if "tensorflow" in mods:
            mods["tensorflow"].config.experimental.enable_tensor_float_32_execution(False)
    except Exception:
        pass


def _one_line(exc):
    """The most telling line of an exception (MXNet puts a C++ traceback before its message)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if not lines:
        return type(exc).__name__
    first = lines[0]
    if first.startswith("Traceback") or first.startswith("File ") or first.startswith("["):
        tail = [ln for ln in lines if not ln.startswith(("File ", "[bt]", "Traceback", "Stack trace"))
                and not ln[:1].isdigit()]
        first = tail[-1] if tail else lines[-1]
    name = type(exc).__name__
    return first if first.startswith(name + ":") else "%s: %s" % (name, first)


PARENT_ENV = "D2LC_WORKER_PARENT"  # the client's pid, set by the client


def die_with_parent(interval=0.2):
    """End this worker (and its process group) as soon as the client that started it is gone.

    The client may be killed in any way (SIGKILL included) while a call hangs, so the main loop
    never sees its stdin close; a daemon thread watches the parent pid instead. (Linux's
    PR_SET_PDEATHSIG would fire when the client *thread* that spawned the worker ends, and the
    client spawns workers from short-lived threads.)"""
    expected = os.environ.get(PARENT_ENV)
    parent = int(expected) if expected and expected.isdigit() else os.getppid()

    def end():
        if os.getpgrp() == os.getpid():  # a group of our own (the client starts a new session): take it along
            os.killpg(os.getpid(), signal.SIGKILL)
        os._exit(70)

    def watch():
        while os.getppid() == parent:
            time.sleep(interval)
        end()

    if os.getppid() != parent:
        end()
    threading.Thread(target=watch, name="d2lc-watch-parent", daemon=True).start()


def main():
    die_with_parent()
    # The protocol owns the original stdin/stdout; anything the generated code prints goes to stderr.
    proto_in = os.fdopen(os.dup(0), "rb", buffering=0)
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    sys.stdout = sys.stderr
    worker = Worker()
    while True:
        try:
            header, blobs = read_message(proto_in)
        except EOFError:
            return 0
        if header.get("op") == "batch":
            for reply, out_blobs in worker.op_batch(header, blobs):
                reply["id"] = header.get("id")
                proto_out.write(encode_message(reply, out_blobs))
            continue
        try:
            reply, out_blobs = worker.handle(header, blobs)
        except BaseException as exc:  # report everything, including SystemExit from generated code
            if isinstance(exc, KeyboardInterrupt):
                raise
            reply, out_blobs = _failure(exc), []
        reply["id"] = header.get("id")
        proto_out.write(encode_message(reply, out_blobs))
        if reply.get("exit"):
            return 0


if __name__ == "__main__":
    sys.exit(main())
