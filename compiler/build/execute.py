"""Executing notebooks with real Jupyter kernels (nbclient), one kernel per notebook, outputs cached by content.

Each environment gets a kernelspec under the project's build folder (never the user's home): its
python runs `ipykernel_launcher`. A notebook's ```d2l parameters cell is followed by an injected cell
of overrides (papermill's convention, tag `injected-parameters`), so CI can run the book small.

The cache is a folder of executed notebooks named by a digest of what determines the outputs: the
notebook JSON after injection, the environment's lock file, the data files and the executor's
version. jupyter-cache keys by notebook code only and keeps an SQLite index; here the environment
lock must be part of the key (a framework upgrade must re-run the book), and a file per key needs no index.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from d2lc.build.envs import FRAMEWORK_ENV
from d2lc.build.sampledata import data_env
from d2lc.build.uptodate import data_fingerprint

EXECUTOR_VERSION = "3"  # bump when the way notebooks are run changes their outputs


@dataclass
class ExecutionFailure:
    notebook: str
    cell: int  # 0-based index in the executed notebook
    cell_id: str
    error: str

    def render(self) -> str:
        return f"{self.notebook}: cell {self.cell} ({self.cell_id}): {self.error}"


@dataclass
class Job:
    notebook: Path  # the plain notebook (generated/TARGET/...)
    shown: str  # how reports name it
    target_out: Path  # where the executed copy goes
    python: Path  # the environment's python
    env_name: str
    lock: Path | None  # the environment's lock file (part of the cache key)


def kernel_name(env_name: str) -> str:
    return f"d2lc-{env_name}"


def write_kernelspec(folder: Path, env_name: str, python: Path) -> Path:
    """FOLDER/d2lc-ENV/kernel.json running ENV's python; returns FOLDER (a kernel_dirs entry)."""
    spec_dir = folder / kernel_name(env_name)
    spec_dir.mkdir(parents=True, exist_ok=True)
    # --matplotlib=inline registers the PNG display of figures (matplotlib_inline alone shows old
    # matplotlib's figures, MXNet's 3.7, as text only)
    spec = {"argv": [str(python), "-m", "ipykernel_launcher", "--matplotlib=inline", "-f", "{connection_file}"],
            "display_name": f"d2lc {env_name}", "language": "python",
            "env": {**FRAMEWORK_ENV, "PYTHONHASHSEED": "0", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}}
    text = json.dumps(spec, indent=1, sort_keys=True) + "\n"
    path = spec_dir / "kernel.json"
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return folder


# The variables that size each framework's CPU thread pools (OpenMP: PyTorch, MXNet, Paddle; TensorFlow's own;
# XLA's for JAX). Kernels running side by side, each with a pool as wide as the machine, oversubscribe it:
# OpenMP's waiting threads spin, and on 2 cores with 2 kernels PyTorch's LSTM section took 20 s of CPU
# instead of 4.5 s (benchmarks/execute_profile.py). Outputs may differ in the last bits of a float sum;
# the thread count is not part of the cache key (a build with other --jobs reuses the cached copies).
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")


def thread_env(workers: int, cpus: int | None = None) -> dict[str, str]:
    """The kernels' thread-pool sizes when `workers` kernels share the machine's CPUs: the CPUs divided among
    them (at least one each); none when one kernel runs alone. Variables set in the environment win."""
    if workers <= 1:
        return {}
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n = str(max(1, cpus // workers))
    env = {k: n for k in THREAD_VARIABLES if k not in os.environ}
    if "XLA_FLAGS" not in os.environ:
        env["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen={'true' if n != '1' else 'false'} intra_op_parallelism_threads={n}"
    return env


def inject_parameters(nb: nbformat.NotebookNode, overrides: dict[str, object]) -> nbformat.NotebookNode:
    """A copy of `nb` with an `injected-parameters` cell after its parameters cell, assigning the
    overrides whose names that cell assigns (others would be unused)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    if not overrides:
        return nb
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and "parameters" in cell.metadata.get("tags", []):
            names = {line.split("=")[0].strip() for line in cell.source.splitlines() if "=" in line and not line.startswith(" ")}
            lines = [f"{k} = {v!r}" for k, v in sorted(overrides.items()) if k in names]
            if lines:
                injected = nbformat.v4.new_code_cell("# Parameters\n" + "\n".join(lines))
                injected.id = f"{cell.id}-params"[:64]
                injected.metadata["tags"] = ["injected-parameters"]
                nb.cells.insert(i + 1, injected)
            break
    return nb


def cache_key(nb: nbformat.NotebookNode, lock: Path | None, data: str) -> str:
    h = hashlib.sha256()
    h.update(EXECUTOR_VERSION.encode())
    h.update(json.dumps(nb, sort_keys=True).encode())
    h.update(lock.read_bytes() if lock is not None and lock.exists() else b"no lock")
    h.update(data.encode())
    return h.hexdigest()[:32]


def run_notebook(nb: nbformat.NotebookNode, kernel_dirs: Path, env_name: str, work: Path, timeout: int,
                 env: dict[str, str] | None = None) -> tuple[nbformat.NotebookNode, ExecutionFailure | None]:
    """Execute `nb` in a fresh kernel of ENV with `work` as its cwd and ENV's variables added to the kernel's
    environment; (executed notebook, failure or None)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
    from nbclient.util import run_sync

    # the async manager: with a blocking one, nbclient's reads block its event loop, so a kernel that
    # dies (a crashing framework) is never noticed and the build hangs past the cell timeout
    km = AsyncKernelManager(kernel_name=kernel_name(env_name), transport="ipc", ip=str(work.parent / "kernel"),
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dirs)]))
    started: list[int] = []  # the index of each cell as it starts (the last one is the one that failed)
    client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=False, record_timing=False,
                            resources={"metadata": {"path": str(work)}},
                            on_cell_execute=lambda cell, cell_index: started.append(cell_index))
    failure = None
    try:
        # the kernel process's own stdout/stderr (framework start-up logs) are dropped; cell output comes over IOPub
        client.execute(cwd=str(work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        index = started[-1] if started else _failed_cell(nb)
        cell = nb.cells[index] if index is not None else None
        if isinstance(exc, DeadKernelError):
            error = "the kernel died while the cell ran (a crash in native code, or out of memory)"
        elif isinstance(exc, CellTimeoutError):
            error = f"the cell did not finish within {timeout} s"
        else:
            error = _error_summary(cell) if cell is not None else str(exc).strip().splitlines()[-1]
        failure = ExecutionFailure("", index if index is not None else -1, cell.id if cell is not None else "?", error)
    finally:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)
    for cell in nb.cells:  # outputs only; no timing or kernel-specific metadata in the copies
        cell.metadata.pop("execution", None)
    return nb, failure


def _failed_cell(nb: nbformat.NotebookNode) -> int | None:
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            return i
    last = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.get("execution_count")]
    return last[-1] + 1 if last and last[-1] + 1 < len(nb.cells) else None


def _error_summary(cell: nbformat.NotebookNode) -> str:
    for o in cell.get("outputs", []):
        if o.get("output_type") == "error":
            return f"{o.get('ename')}: {o.get('evalue')}"
    return "the cell did not finish (timeout or dead kernel)"


def execute_all(jobs: list[Job], overrides: dict[str, object], cache: Path, kernel_dirs: Path, data: Path,
                timeout: int, workers: int = 1, progress=None) -> tuple[int, int, list[ExecutionFailure]]:
    """Run every job (cached ones are copied from the cache); returns (executed, cached, failures)."""
    for env_name, python in sorted({(j.env_name, j.python) for j in jobs}):
        write_kernelspec(kernel_dirs, env_name, python)
    cache.mkdir(parents=True, exist_ok=True)
    data_digest = data_fingerprint(data)
    kernel_env = {**data_env(data), **thread_env(workers)}
    todo, cached, failures = [], 0, []
    for job in jobs:
        nb = inject_parameters(nbformat.read(job.notebook, as_version=4), overrides)
        key = cache_key(nb, job.lock, data_digest)
        hit = cache / f"{key}.ipynb"
        if hit.exists():
            _copy_if_changed(hit, job.target_out)
            cached += 1
            if progress:
                progress(job.shown, "cached")
        else:
            todo.append((job, nb, hit))

    def one(item):
        job, nb, hit = item
        with tempfile.TemporaryDirectory(prefix="d2lc-run-") as tmp:
            work = Path(tmp) / "chapter"
            work.mkdir()
            executed, failure = run_notebook(nb, kernel_dirs, job.env_name, work, timeout, kernel_env)
        if failure is not None:
            failure.notebook = job.shown
            return job, failure
        text = nbformat.writes(executed) + "\n"
        _write_atomic(hit, text)
        _copy_if_changed(hit, job.target_out)
        return job, None

    if workers > 1 and len(todo) > 1:
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = pool.map(one, todo)
            for job, failure in results:
                _report(job, failure, failures, progress)
    else:
        for item in todo:
            job, failure = one(item)
            _report(job, failure, failures, progress)
    return len(todo) - len(failures), cached, failures


def _report(job: Job, failure: ExecutionFailure | None, failures: list, progress) -> None:
    if failure is not None:
        failures.append(failure)
    if progress:
        progress(job.shown, "failed" if failure else "executed")


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".d2lc-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _copy_if_changed(src: Path, dst: Path) -> None:
    if dst.exists() and dst.read_bytes() == src.read_bytes():
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".d2lc-{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
