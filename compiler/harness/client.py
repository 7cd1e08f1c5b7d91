"""The client side of a worker: spawn it, send requests with a deadline, restart it when it dies or hangs."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from d2lc.harness.worker import _LEN, PARENT_ENV, encode_message, pack_value, unpack_value

WORKER_SCRIPT = Path(__file__).with_name("worker.py")


class WorkerError(Exception):
    """The worker could not answer: it crashed, hung past its deadline, or broke the protocol."""


class CallFailed(Exception):
    """The request ran and raised; `traceback` is the worker's."""

    def __init__(self, message: str, traceback: str = ""):
        super().__init__(message)
        self.traceback = traceback


@dataclass
class TargetSetup:
    """What a worker needs to serve one target: the backend's harness adapter and the device."""

    name: str
    setup: str
    to_native: str
    to_numpy: str
    device: str = "cpu"
    jit: str | None = None  # "jax": the worker runs the target's functions through jax.jit, per input shape


@dataclass
class WorkerStats:
    restarts: int = 0
    timeouts: int = 0
    crashes: int = 0


@dataclass
class Reply:
    header: dict[str, Any]
    value: Any = None
    roundtrip_s: float = 0.0


@dataclass
class CallFailedReply(Reply):
    """A reply saying the call raised (internal: `request` raises `error`, `call_batch` returns it)."""

    error: CallFailed | None = None


class WorkerClient:
    """One long-lived worker process, restarted on demand; setups and modules are replayed after a restart."""

    def __init__(self, python: str, env: dict[str, str] | None = None, name: str = "worker",
                 call_timeout: float = 30.0, start_timeout: float = 180.0):
        self.python = python
        self.extra_env = dict(env or {})
        self.name = name
        self.call_timeout = call_timeout
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self.stats = WorkerStats()
        self._setups: dict[str, TargetSetup] = {}
        self._sources: dict[tuple[str, str], str] = {}
        self._ready_targets: set[str] = set()
        self._ready_modules: set[tuple[str, str]] = set()
        self._log = tempfile.TemporaryFile(mode="a+b")  # O_APPEND: reading never moves where the worker writes
        self._next_id = 0
        self._started = False
        self._busy = threading.Lock()  # held while a request is in flight
        self._abandoned = False  # set by `abandon`: the run is over, never start again

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        env = dict(os.environ)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(self.extra_env)
        env[PARENT_ENV] = str(os.getpid())  # the worker ends itself when this process is gone
        self._log.seek(0)
        self._log.truncate()
        self.proc = subprocess.Popen([self.python, "-u", str(WORKER_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log, env=env, start_new_session=True, bufsize=0)
        self._ready_targets.clear()
        self._ready_modules.clear()
        self._started = True

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """Kill this worker's process group (it runs in its own session), and reap it."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def abandon(self) -> None:
        """Kill the worker for good (an interrupted run): threads still using it get WorkerError, no restart."""
        self._abandoned = True
        self.kill()

    def close(self) -> None:
        """Ask the worker to exit; kill it if it does not, or if a request is still in flight (an interrupted run)."""
        if self.alive() and self._busy.acquire(blocking=False):
            try:
                self._roundtrip({"op": "exit"}, [], timeout=5)
                if self.proc is not None:
                    self.proc.wait(timeout=5)
            except (WorkerError, CallFailed, subprocess.TimeoutExpired):
                pass
            finally:
                self._busy.release()
        self.kill()

    def stderr_tail(self, lines: int = 15) -> str:
        try:
            self._log.seek(0)
            text = self._log.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        keep = [ln for ln in text.splitlines() if ln.strip()]
        return "\n".join(keep[-lines:])

    # ---- requests -------------------------------------------------------------------------------
    def probe(self, packages: list[str], gpu: bool = False, timeout: float | None = None) -> dict[str, Any]:
        return self.request({"op": "probe", "packages": list(packages), "gpu": gpu}, timeout=timeout or self.start_timeout).header

    def add_target(self, setup: TargetSetup) -> None:
        """Register a target; its setup runs (again after every restart) before its first use."""
        self._setups[setup.name] = setup
        self._ready_targets.discard(setup.name)

    def add_module(self, target: str, key: str, source: str, filename: str | None = None) -> None:
        """Register a module source for a target; it is exec'd in the worker before its first call.

        `filename` names it in tracebacks (default: "<generated TARGET KEY>")."""
        self._sources[(target, key)] = (source, filename or f"<generated {target} {key}>")
        self._ready_modules.discard((target, key))

    def ensure(self, target: str, key: str | None = None) -> None:
        """Run pending setup / load for a target (and module); raises CallFailed if either fails."""
        if not self.alive():
            self._restart()
        if target not in self._ready_targets:
            s = self._setups[target]
            self.request({"op": "setup", "target": target, "setup": s.setup, "to_native": s.to_native,
                          "to_numpy": s.to_numpy, "device": s.device, "jit": s.jit}, timeout=self.start_timeout)
            self._ready_targets.add(target)
        if key is not None and (target, key) not in self._ready_modules:
            source, filename = self._sources[(target, key)]
            self.request({"op": "load", "target": target, "module": key, "source": source, "filename": filename},
                         timeout=self.start_timeout)
            self._ready_modules.add((target, key))

    def call(self, target: str, key: str, function: str, args: list[Any], timeout: float | None = None,
             jit: bool = False) -> Reply:
        """Run a function in the worker; returns its outputs (NumPy arrays / Python scalars / tuples).

        `jit`: through the target's jit (TargetSetup.jit) where it has one, else eagerly as always."""
        self.ensure(target, key)
        blobs: list[bytes] = []
        tags = [pack_value(a, blobs) for a in args]
        reply = self.request({"op": "call", "target": target, "module": key, "function": function, "args": tags,
                              "jit": jit}, blobs, timeout=timeout)
        return reply

    def call_batch(self, target: str, key: str, calls: list[tuple[str, list[Any]]], timeout: float | None = None,
                   jit: bool = False) -> list["Reply | CallFailed | WorkerError"]:
        """Run many calls of one module in one request; each call keeps its own deadline (`timeout`); `jit` as in `call`.

        Returns one entry per call, in order: its Reply, or the CallFailed it raised. When the worker dies
        or hangs on a call, that call's entry is the WorkerError and the list ends there (the worker
        restarts on the next request)."""
        try:
            self.ensure(target, key)
        except CallFailed as exc:  # the setup or the module failed: so does every call
            return [exc] * len(calls)
        except WorkerError as exc:
            return [exc]
        blobs: list[bytes] = []
        wire = [{"function": fn, "args": [pack_value(a, blobs) for a in args]} for fn, args in calls]
        per_call = timeout if timeout is not None else self.call_timeout
        out: list[Reply | CallFailed | WorkerError] = []
        with self._busy:
            try:
                self._next_id += 1
                ident = self._next_id
                t0 = time.perf_counter()
                self._write_all(encode_message({"op": "batch", "target": target, "module": key, "calls": wire,
                                                "jit": jit, "id": ident}, blobs), t0 + per_call)
                for i in range(len(calls)):
                    t0 = time.perf_counter()
                    reply = self._read_reply(ident, t0 + per_call)
                    reply.roundtrip_s = time.perf_counter() - t0
                    if reply.header.get("index") != i:
                        self.kill()
                        raise WorkerError(f"{self.name}: batch reply out of order")
                    out.append(reply.error if isinstance(reply, CallFailedReply) and reply.error else reply)
            except WorkerError as exc:
                out.append(exc)
        return out

    def request(self, header: dict[str, Any], blobs: list[bytes] | None = None, timeout: float | None = None) -> Reply:
        """Send one request and wait for its reply; a dead or hung worker is killed and WorkerError raised."""
        if not self.alive():
            self._restart()
        with self._busy:
            return self._roundtrip(header, blobs or [], timeout if timeout is not None else self.call_timeout)

    def _restart(self) -> None:
        if self._abandoned:
            raise WorkerError(f"{self.name}: the run was interrupted")
        if self._started:
            self.stats.restarts += 1
        self.kill()
        self.start()

    def _roundtrip(self, header: dict[str, Any], blobs: list[bytes], timeout: float) -> Reply:
        assert self.proc is not None
        self._next_id += 1
        header = dict(header, id=self._next_id)
        t0 = time.perf_counter()
        deadline = t0 + timeout
        self._write_all(encode_message(header, blobs), deadline)
        reply = self._read_reply(header["id"], deadline)
        reply.roundtrip_s = time.perf_counter() - t0
        if isinstance(reply, CallFailedReply) and reply.error is not None:
            raise reply.error
        return reply

    def _read_reply(self, ident: int, deadline: float) -> Reply:
        """The next reply message; a failure comes back as a CallFailedReply (raised by the caller, or kept)."""
        head = self._read(deadline)
        try:
            reply = json.loads(head.decode("utf-8"))
        except ValueError:
            self.kill()
            raise WorkerError(f"{self.name}: garbled reply from the worker")
        rblobs = [self._read(deadline) for _ in range(reply.get("nblobs", 0))]
        if reply.get("id") != ident:
            self.kill()
            raise WorkerError(f"{self.name}: reply out of order")
        if not reply.get("ok"):
            return CallFailedReply(reply, error=CallFailed(reply.get("error", "failed"), reply.get("traceback", "")))
        value = unpack_value(reply["result"], rblobs) if "result" in reply else None
        return Reply(reply, value)

    def _write_all(self, data: bytes, deadline: float) -> None:
        """Write a request without ever blocking past the deadline (a hung worker stops reading)."""
        assert self.proc is not None and self.proc.stdin is not None
        fd = self.proc.stdin.fileno()
        view = memoryview(data)
        while view:
            left = deadline - time.perf_counter()
            if left <= 0:
                self._timed_out()
            try:
                _, ready, _ = select.select([], [fd], [], left)
                n = os.write(fd, view[:1 << 16]) if ready else 0
            except (OSError, ValueError):  # a broken pipe, or another thread killed the worker
                self._died("while receiving a request")
            view = view[n:]

    def _timed_out(self) -> None:
        self.stats.timeouts += 1
        self.kill()
        raise WorkerError(f"{self.name}: no reply within the time limit; the worker was killed and will restart")

    def _read(self, deadline: float) -> bytes:
        n = _LEN.unpack(self._read_exact(_LEN.size, deadline))[0]
        return self._read_exact(n, deadline)

    def _read_exact(self, n: int, deadline: float) -> bytes:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        chunks: list[bytes] = []
        while n:
            left = deadline - time.perf_counter()
            if left <= 0:
                self._timed_out()
            try:
                ready, _, _ = select.select([fd], [], [], left)
                chunk = os.read(fd, min(n, 1 << 20)) if ready else None
            except (OSError, ValueError):  # another thread killed the worker and closed its pipe
                self._died("while waiting for a reply")
            if chunk is None:
                continue
            if not chunk:
                self._died("while waiting for a reply")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _died(self, when: str) -> None:
        code = self.proc.poll() if self.proc is not None else None
        if code is None and self.proc is not None:
            try:
                code = self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                code = None
        tail = self.stderr_tail()
        self.stats.crashes += 1
        self.kill()
        raise WorkerError(f"{self.name}: the worker died {when} (exit status {code}); it will restart"
                          + (f"\n{tail}" if tail else ""))

    def __enter__(self) -> "WorkerClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
