"""Where the time of an executed book build goes: per notebook, the kernel's start, then every cell,
each as wall and CPU seconds (the kernel process and its children, from psutil), run the way
`d2lc build --execute --small` runs them (a fresh kernel per notebook, book.toml's small parameters
injected, the sample data sets). The machine is shared, so CPU time is the figure to compare.

Run: .venv/bin/python benchmarks/execute_profile.py [--jobs N] [--top K] [--json FILE] GLOB...
  GLOB matches sections under sources/ (e.g. 'chapter_modern-cnn/*'); every target of each runs.
  The old settings: --no-thread-share --set epochs=2 --set num_epochs=2 --set batch_size=32
  --set num_train=256 --set num_val=128 --set num_steps=32.

Measured 2026-12-02 on the shared 2 cores (load ~20), 10 heavy sections x 5 targets, old settings:
399 s of kernel CPU (8.0 s a notebook): starts 45 s, imports 77 s, cells 277 s; mean per notebook
PyTorch 8.3, TensorFlow 7.4, JAX 18.2, MXNet 3.1, Paddle 2.9 s. The costliest cells: JAX's training
cells (jit compilation), PyTorch's LSTM training (15 s, OpenMP threads spinning beside a second
kernel). With the thread share (one thread per kernel with 2 jobs on 2 cores), alternated at equal
load: PyTorch LSTM 20.2 -> 4.5 s, transformer 11.2 -> 4.0 s, AlexNet 7.7 -> 4.0 s; TensorFlow and JAX
unchanged. The smaller parameters, side by side at equal load: TensorFlow LeNet 4.7 -> 4.3 s,
transformer 10.1 -> 10.1 s, JAX LeNet 8.8 -> 8.5 s, transformer 20.7 -> 20.6 s (compilation dominates).
"""
from __future__ import annotations

import argparse
import ast
import asyncio
import fnmatch
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import psutil

from d2lc.build.book import find_chapters, load
from d2lc.build.envs import framework_available, python_for
from d2lc.build.execute import inject_parameters, kernel_name, thread_env, write_kernelspec
from d2lc.build.sampledata import data_env, write_sample_data
from d2lc.emit.backend import get_backend, registry

ROOT = Path(__file__).resolve().parent.parent


def _cpu(proc: psutil.Process) -> float:
    try:
        t = proc.cpu_times()
        kids = sum(c.cpu_times().user + c.cpu_times().system for c in proc.children(recursive=True))
        return t.user + t.system + t.children_user + t.children_system + kids
    except psutil.Error:
        return 0.0


async def _profile(nb, kernel_dirs: Path, env_name: str, work: Path, env: dict[str, str]) -> dict:
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from nbclient import NotebookClient
    km = AsyncKernelManager(kernel_name=kernel_name(env_name), transport="ipc", ip=str(work.parent / "kernel"),
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dirs)]))
    client = NotebookClient(nb, km=km, timeout=1200, allow_errors=True, resources={"metadata": {"path": str(work)}})
    t0 = time.perf_counter()
    cells: list[dict] = []
    try:
        async with client.async_setup_kernel(cwd=str(work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                             env={**os.environ, **env}):
            start_wall, proc, start_cpu, total_cpu = await _run_cells(client, km, nb, cells, t0)
    finally:
        if km.has_kernel:  # nbclient leaves a kernel it does not own running
            await km.shutdown_kernel(now=True)
    errors = [c["error"] for c in cells if c.get("error")]
    return {"start_wall": start_wall, "start_cpu": start_cpu, "cells": cells, "cpu": total_cpu,
            "wall": time.perf_counter() - t0, "error": errors[0] if errors else None}


async def _run_cells(client, km, nb, cells: list, t0: float):
    start_wall = time.perf_counter() - t0
    proc = psutil.Process(km.provisioner.process.pid)
    start_cpu = _cpu(proc)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        c0, w0 = _cpu(proc), time.perf_counter()
        await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        first = cell.source.strip().splitlines()[0][:70] if cell.source.strip() else ""
        cells.append({"index": index, "id": cell.id, "wall": time.perf_counter() - w0, "cpu": _cpu(proc) - c0,
                      "first_line": first, "tags": cell.metadata.get("tags", [])})
        errs = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errs:
            cells[-1]["error"] = f"cell {index} ({cell.id}): {errs[0].get('ename')}: {errs[0].get('evalue')}"
    return start_wall, proc, start_cpu, _cpu(proc)




def profile_one(path: Path, target: str, env_name: str, overrides: dict, kernel_dirs: Path, data: Path,
                threads: dict[str, str]) -> dict:
    nb = inject_parameters(nbformat.read(path, as_version=4), overrides)
    with tempfile.TemporaryDirectory(prefix="d2lc-prof-") as tmp:
        work = Path(tmp) / "chapter"
        work.mkdir()
        row = asyncio.run(_profile(nb, kernel_dirs, env_name, work, {**data_env(data), **threads}))
    row.update(notebook=str(path.relative_to(ROOT)), target=target)
    print(f"  done {row['notebook']}: {row['cpu']:.1f} s CPU, {row['wall']:.1f} s wall", file=sys.stderr, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("globs", nargs="+")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--top", type=int, default=25, help="how many of the slowest cells to list")
    ap.add_argument("--json", help="write every row to this file")
    ap.add_argument("--full", action="store_true", help="the book's own parameters (no small overrides)")
    ap.add_argument("--no-thread-share", action="store_true",
                    help="leave the kernels' thread pools at the frameworks' defaults (as before d2lc sized them)")
    ap.add_argument("--targets", help="comma-separated targets (default: book.toml's)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a small parameter to use instead of book.toml's (a Python literal); repeatable")
    args = ap.parse_args()
    book = load(ROOT)
    overrides = {} if args.full else dict(book.execute.parameters)
    for item in args.set:
        name, _, value = item.partition("=")
        overrides[name] = ast.literal_eval(value)
    tmp = Path(tempfile.mkdtemp(prefix="d2lc-prof-"))
    data, kernels = tmp / "data", tmp / "kernels"
    write_sample_data(data)
    chapters = [c for c in find_chapters([book.sources_dir]) if any(fnmatch.fnmatch(c.rel.as_posix(), g) for g in args.globs)]
    todo = []
    for name in args.targets.split(",") if args.targets else book.targets:
        if name not in registry():
            continue
        b = get_backend(name)
        python = python_for(b)
        if python is None or not framework_available(str(python), (*b.environment.packages, "ipykernel")):
            print(f"skipping {name}: no environment", file=sys.stderr)
            continue
        write_kernelspec(kernels, b.environment.name, python)
        for c in chapters:
            todo.append((ROOT / book.output / name / c.rel.with_suffix(".ipynb"), name, b.environment.name))
    threads = {} if args.no_thread_share else thread_env(args.jobs)
    t0, c0 = time.perf_counter(), _cpu(psutil.Process())
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(lambda t: profile_one(*t, overrides, kernels, data, threads), todo))
    wall = time.perf_counter() - t0
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    print(f"parameters {overrides}; thread pools {threads.get('OMP_NUM_THREADS', 'the frameworks defaults')}")
    print(f"{len(rows)} notebooks, {wall:.1f} s wall with {args.jobs} jobs, load {os.getloadavg()[0]:.1f}; "
          f"the profiler's own CPU {_cpu(psutil.Process()) - c0:.1f} s")
    print(f"{'notebook':<66} {'start':>6} {'import':>6} {'cells':>6} {'cpu':>6} {'wall':>6}")
    for r in rows:
        setup = r["cells"][1]["cpu"] if len(r["cells"]) > 1 else 0.0
        print(f"{r['notebook']:<66} {r['start_cpu']:6.1f} {setup:6.1f} {r['cpu'] - r['start_cpu']:6.1f} "
              f"{r['cpu']:6.1f} {r['wall']:6.1f}" + (f"  ERROR {r['error']}" if r["error"] else ""))
    by_target: dict[str, list[dict]] = {}
    for r in rows:
        by_target.setdefault(r["target"], []).append(r)
    print("per target (mean CPU s): start, first-code-cell (imports), rest, total")
    for t, rs in by_target.items():
        n = len(rs)
        start = sum(r["start_cpu"] for r in rs) / n
        imp = sum(r["cells"][1]["cpu"] for r in rs if len(r["cells"]) > 1) / n
        total = sum(r["cpu"] for r in rs) / n
        print(f"  {t:<11} {start:6.1f} {imp:6.1f} {total - start - imp:6.1f} {total:6.1f}")
    cells = sorted(((c["cpu"], c["wall"], r["notebook"], c) for r in rows for c in r["cells"]), key=lambda x: -x[0])
    print(f"the {args.top} costliest cells (CPU s, wall s):")
    for cpu, w, nb, c in cells[:args.top]:
        print(f"  {cpu:6.1f} {w:6.1f}  {nb.removeprefix('generated/')}[{c['index']}] {c['first_line']}")
    total_cpu = sum(r["cpu"] for r in rows)
    print(f"total kernel CPU {total_cpu:.1f} s; starts {sum(r['start_cpu'] for r in rows):.1f} s; "
          f"first code cells {sum(r['cells'][1]['cpu'] for r in rows if len(r['cells']) > 1):.1f} s")


if __name__ == "__main__":
    main()
