"""The workers of a run: one per target (targets of one environment share its interpreter, not a process),
so that the frameworks compute in parallel."""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from d2lc.emit.backend import Backend
from d2lc.harness.client import CallFailed, TargetSetup, WorkerClient, WorkerError
from d2lc.build.envs import FRAMEWORK_ENV, env_python


@dataclass
class TargetInfo:
    backend: Backend
    available: bool = False
    why: str = ""  # why not available
    device: str = "cpu"
    versions: dict[str, str] = field(default_factory=dict)


def worker_env(device: str, cache_dir: Path | None) -> dict[str, str]:
    """Environment variables for the workers: quiet TF without oneDNN (FRAMEWORK_ENV), CPU only when asked,
    JAX's on-disk compile cache."""
    env = dict(FRAMEWORK_ENV)
    if device == "cpu":
        env.update({"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"})
    if cache_dir is not None:
        # JAX compiles every eager op once per input shape; the cache keeps those across runs.
        env.update({"JAX_COMPILATION_CACHE_DIR": str(Path(cache_dir).resolve() / "jax"),
                    "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
                    "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"})
    return env


# XLA's CPU backend spends most of a small function's compile in LLVM's optimisations; these functions run a
# handful of times each, so compiling them fast matters more than running them fast.
JIT_ENV = {"XLA_FLAGS": "--xla_backend_optimization_level=0"}
JIT_PROCESSES = int(os.environ.get("D2LC_JAX_PROCESSES", 0)) or max(1, min(4, (os.cpu_count() or 2) // 2))  # processes per JAX target on the CPU, sharing out its inputs by shape


JIT_KINDS = {"jax": "jax", "tensorflow": "tensorflow"}  # first package -> the jit kind of worker.py/jitcalls.py


def jit_kind(backend: Backend) -> str | None:
    """The jit kind of a target: "jax" (jax.jit) and "tensorflow" (tf.function), whose workers trace each function per
    input signature where a request repeats it (instead of compiling, or dispatching, every eager op)."""
    return JIT_KINDS.get(backend.environment.packages[0]) if backend.environment.packages else None


class Session:
    """Starts one worker per target, probes each target's framework, and routes calls."""

    def __init__(self, backends: list[Backend], device: str = "cpu", call_timeout: float = 60.0,
                 start_timeout: float = 300.0, cache_dir: Path | None = None, env: dict[str, str] | None = None):
        """`env`: further variables for every worker (say the thread-pool sizes of build/execute.py's `thread_env`)."""
        self.device = device
        self.targets: dict[str, TargetInfo] = {b.name: TargetInfo(b) for b in backends}
        self.workers: dict[str, WorkerClient] = {}
        self.helpers: dict[str, list[WorkerClient]] = {}  # target -> further processes (set up like its worker)
        env = worker_env(device, cache_dir) | (env or {})
        for b in backends:
            python = env_python(b.environment.name)
            if python is not None:
                extra = dict(b.harness.env) | (JIT_ENV if jit_kind(b) == "jax" and "XLA_FLAGS" not in os.environ else {})
                self.workers[b.name] = WorkerClient(str(python), env={**env, **extra}, name=f"{b.name} worker",
                                                    call_timeout=call_timeout, start_timeout=start_timeout)
                # JAX spends its time compiling, on one core: on the CPU, more processes share its inputs out.
                copies = JIT_PROCESSES if jit_kind(b) == "jax" and device == "cpu" else 1
                self.helpers[b.name] = [WorkerClient(str(python), env={**env, **extra}, name=f"{b.name} worker {i + 2}",
                                                     call_timeout=call_timeout, start_timeout=start_timeout)
                                        for i in range(copies - 1)]
        count = len(self.workers) + sum(len(h) for h in self.helpers.values())
        self.pool = ThreadPoolExecutor(max_workers=max(1, count), thread_name_prefix="d2lc-harness")
        self.killed = False

    def worker_for(self, target: str) -> WorkerClient:
        return self.workers[target]

    def workers_of(self, target: str) -> list[WorkerClient]:
        """Every process that serves `target`: its worker first, then the ones that share its inputs."""
        return [self.workers[target], *self.helpers.get(target, [])]

    def _all_workers(self) -> list[WorkerClient]:
        return [w for name in self.workers for w in self.workers_of(name)]

    def start(self) -> None:
        """Probe every target (all in parallel) and set up the available ones."""
        ready = []
        for name, info in self.targets.items():
            env = info.backend.environment.name
            if name not in self.workers:
                info.why = f"environment `{env}` is not installed (no .venv-{env})"
                continue
            ready.append(info)
        list(self.pool.map(self._probe_target, ready))

    def _probe_target(self, info: TargetInfo) -> None:
        helpers = threading.Thread(target=self._start_helpers, args=(info.backend,), name="d2lc-harness-helpers")
        helpers.start()
        try:
            self._probe_worker(info)
        finally:
            helpers.join()
        if not info.available:
            for w in self.helpers.get(info.backend.name, []):
                w.close()
            self.helpers[info.backend.name] = []

    def _start_helpers(self, b: Backend) -> None:
        """Set up the further processes of a target (CPU only); one that fails is dropped, never used."""
        ok = []
        for w in self.helpers.get(b.name, []):
            h = b.harness
            w.add_target(TargetSetup(b.name, h.setup, h.to_native, h.to_numpy, "cpu", jit=jit_kind(b)))
            try:
                w.ensure(b.name)
                ok.append(w)
            except (WorkerError, CallFailed):
                w.close()
        self.helpers[b.name] = ok

    def _probe_worker(self, info: TargetInfo) -> None:
        b = info.backend
        env = b.environment.name
        worker = self.workers[b.name]
        try:
            reply = worker.probe(list(b.environment.packages), gpu=self.device != "cpu")
        except (WorkerError, CallFailed) as exc:
            lines = str(exc).splitlines()
            info.why = f"the {env} worker failed: {lines[0]}" + (f" ({lines[-1].strip()})" if len(lines) > 1 else "")
            return
        missing = [f"{p} ({r.get('error', '')})" for p, r in reply["packages"].items() if not r["ok"]]
        if missing:
            info.why = "not importable in the " + env + " environment: " + ", ".join(missing)
            return
        info.versions = {p: r.get("version", "") for p, r in reply["packages"].items()}
        gpu = bool(reply.get("gpu"))
        if self.device == "gpu" and not gpu:
            info.why = f"--device=gpu, but {b.display_name} sees no GPU"
            return
        info.device = "gpu" if self.device != "cpu" and gpu else "cpu"
        h = b.harness
        worker.add_target(TargetSetup(b.name, h.setup, h.to_native, h.to_numpy, info.device, jit=jit_kind(b)))
        try:
            worker.ensure(b.name)
        except (WorkerError, CallFailed) as exc:
            info.why = f"its harness setup failed: {exc}"
            return
        info.available = True

    def available(self) -> list[str]:
        return [n for n, i in self.targets.items() if i.available]

    def close(self) -> None:
        """Ask every worker to exit, all at once (one by one after `kill`, which stops the thread pool)."""
        if self.killed:
            for w in self._all_workers():
                w.close()
            return
        list(self.pool.map(WorkerClient.close, self._all_workers()))
        self.pool.shutdown(wait=False)

    def kill(self) -> None:
        """End every worker now (an interrupted run): threads waiting on them see them die and return."""
        self.killed = True
        for w in self._all_workers():
            w.abandon()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.kill()  # KeyboardInterrupt, SystemExit: no polite goodbyes to a worker that may be mid-call
        self.close()
