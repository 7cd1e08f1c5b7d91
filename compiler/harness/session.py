"""The workers of a run: one per environment, shared by every target that lives in it."""
from __future__ import annotations

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


class Session:
    """Starts one worker per environment, probes each target's framework, and routes calls."""

    def __init__(self, backends: list[Backend], device: str = "cpu", call_timeout: float = 60.0,
                 start_timeout: float = 300.0, cache_dir: Path | None = None):
        self.device = device
        self.targets: dict[str, TargetInfo] = {b.name: TargetInfo(b) for b in backends}
        self.workers: dict[str, WorkerClient] = {}
        env = worker_env(device, cache_dir)
        for b in backends:
            name = b.environment.name
            if name in self.workers:
                continue
            python = env_python(name)
            if python is not None:
                self.workers[name] = WorkerClient(str(python), env=env, name=f"{name} worker", call_timeout=call_timeout,
                                                  start_timeout=start_timeout)
        self.pool = ThreadPoolExecutor(max_workers=max(1, len(self.workers)), thread_name_prefix="d2lc-harness")

    def worker_for(self, target: str) -> WorkerClient:
        return self.workers[self.targets[target].backend.environment.name]

    def start(self) -> None:
        """Probe every target (environments in parallel) and set up the available ones."""
        by_env: dict[str, list[TargetInfo]] = {}
        for info in self.targets.values():
            env = info.backend.environment.name
            if env not in self.workers:
                info.why = f"environment `{env}` is not installed (no .venv-{env})"
                continue
            by_env.setdefault(env, []).append(info)
        list(self.pool.map(lambda item: self._probe_env(*item), by_env.items()))

    def _probe_env(self, env: str, infos: list[TargetInfo]) -> None:
        worker = self.workers[env]
        for info in infos:
            b = info.backend
            try:
                reply = worker.probe(list(b.environment.packages), gpu=self.device != "cpu")
            except (WorkerError, CallFailed) as exc:
                lines = str(exc).splitlines()
                info.why = f"the {env} worker failed: {lines[0]}" + (f" ({lines[-1].strip()})" if len(lines) > 1 else "")
                continue
            missing = [f"{p} ({r.get('error', '')})" for p, r in reply["packages"].items() if not r["ok"]]
            if missing:
                info.why = "not importable in the " + env + " environment: " + ", ".join(missing)
                continue
            info.versions = {p: r.get("version", "") for p, r in reply["packages"].items()}
            gpu = bool(reply.get("gpu"))
            if self.device == "gpu" and not gpu:
                info.why = f"--device=gpu, but {b.display_name} sees no GPU"
                continue
            info.device = "gpu" if self.device != "cpu" and gpu else "cpu"
            h = b.harness
            worker.add_target(TargetSetup(b.name, h.setup, h.to_native, h.to_numpy, info.device))
            try:
                worker.ensure(b.name)
            except (WorkerError, CallFailed) as exc:
                info.why = f"its harness setup failed: {exc}"
                continue
            info.available = True

    def available(self) -> list[str]:
        return [n for n, i in self.targets.items() if i.available]

    def close(self) -> None:
        for w in self.workers.values():
            w.close()
        self.pool.shutdown(wait=False)

    def kill(self) -> None:
        """End every worker now (an interrupted run): threads waiting on them see them die and return."""
        for w in self.workers.values():
            w.abandon()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.kill()  # KeyboardInterrupt, SystemExit: no polite goodbyes to a worker that may be mid-call
        self.close()
