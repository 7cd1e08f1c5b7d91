"""Benchmark of the equivalence harness: long-lived workers against a new process per example.

For each installed target it runs the same compiled functions (forward and gradient rows of a
few composite functions from tests/corpus/composites.md) on the same inputs two ways:

  worker  one long-lived worker per environment (what `d2lc test` does): examples per second,
          and the per-example overhead beyond the computation itself (framing, .npy transfer,
          NumPy <-> tensor conversion), measured after one warm-up call per shape;
  naive   a new python process per example, which imports the framework, execs the module,
          converts, calls and writes the result: seconds per example, and its overhead.

    python benchmarks/equivalence.py [--examples N] [--naive N] [--targets a,b] [--functions f,g]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from d2lc.emit.backend import get_backend, target_names
from d2lc.harness.cases import emit_for, load_chapter
from d2lc.harness.client import TargetSetup, WorkerClient
from d2lc.build.envs import env_python
from d2lc.harness.session import worker_env
from d2lc.harness.strategies import shape_of
from d2lc.core.types import TensorType

ROOT = Path(__file__).resolve().parents[1]

CHAPTER = ROOT / "tests" / "corpus" / "composites.md"
FUNCTIONS = ("softmax", "mlp", "layer_norm", "logsumexp")

# One example in a fresh process: what a harness without long-lived workers would do.
NAIVE_DRIVER = r'''
import json, sys, time
import numpy as np
spec = json.load(open(sys.argv[1]))
t0 = time.perf_counter()
ns = {"DEVICE": "cpu"}
exec(spec["setup"], ns)
to_native = eval("lambda a: (%s)" % spec["to_native"], ns)
to_numpy = eval("lambda t: (%s)" % spec["to_numpy"], ns)
mod = {"__name__": "generated"}
exec(open(spec["module"]).read(), mod)
t1 = time.perf_counter()
data = np.load(spec["inputs"], allow_pickle=False)
args = [to_native(data["a%d" % i]) for i in range(len(data.files))]
t2 = time.perf_counter()
out = mod[spec["function"]](*args)
out = np.asarray(to_numpy(out))
t3 = time.perf_counter()
np.save(spec["output"], out, allow_pickle=False)
print(json.dumps({"startup_s": t1 - t0, "convert_s": t2 - t1, "compute_s": t3 - t2}))
'''


def inputs_for(case, dims: dict[str, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Every drawn argument of a case (its parameters, and the output weights of gradient rows)."""
    out = {}
    for spec in case.specs:
        assert isinstance(spec.type, TensorType), "benchmark functions take tensors only"
        out[spec.name] = rng.uniform(0.1, 2.0, size=shape_of(spec.type, dims)).astype(spec.type.dtype.value)
    return out


def bench_worker(worker: WorkerClient, target: str, key: str, calls: list[tuple[str, list[np.ndarray]]]) -> dict:
    for callee, args in calls[:len(calls) // 4 or 1]:
        worker.call(target, key, callee, args)  # warm-up: imports, first-call and per-shape compiles
    n, t_round, t_compute = 0, 0.0, 0.0
    t0 = time.perf_counter()
    for callee, args in calls:
        reply = worker.call(target, key, callee, args)
        n += 1
        t_round += reply.roundtrip_s
        t_compute += reply.header["compute_s"]
    wall = time.perf_counter() - t0
    return {"per_s": n / wall, "overhead_ms": 1000 * (t_round - t_compute) / n, "compute_ms": 1000 * t_compute / n}


def bench_naive(python: str, backend, source: str, calls: list[tuple[str, list[np.ndarray]]], env: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "module.py").write_text(source)
        (tmp_path / "driver.py").write_text(NAIVE_DRIVER)
        walls, computes = [], []
        for i, (callee, args) in enumerate(calls):
            np.savez(tmp_path / f"in{i}.npz", **{f"a{j}": a for j, a in enumerate(args)})
            spec = {"setup": backend.harness.setup, "to_native": backend.harness.to_native, "to_numpy": backend.harness.to_numpy,
                    "module": str(tmp_path / "module.py"), "function": callee, "inputs": str(tmp_path / f"in{i}.npz"),
                    "output": str(tmp_path / f"out{i}.npy")}
            (tmp_path / f"spec{i}.json").write_text(json.dumps(spec))
            t0 = time.perf_counter()
            proc = subprocess.run([python, str(tmp_path / "driver.py"), str(tmp_path / f"spec{i}.json")],
                                  capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
            walls.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-2000:])
            computes.append(json.loads(proc.stdout.strip().splitlines()[-1])["compute_s"])
    n = len(walls)
    return {"s_per_example": sum(walls) / n, "per_s": n / sum(walls), "overhead_ms": 1000 * (sum(walls) - sum(computes)) / n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=200, help="calls per target through the worker (default 200)")
    ap.add_argument("--naive", type=int, default=4, help="calls per target with a process each (default 4)")
    ap.add_argument("--targets", default="all")
    ap.add_argument("--functions", default=",".join(FUNCTIONS))
    args = ap.parse_args(argv)

    names = target_names() if args.targets == "all" else args.targets.split(",")
    backends = [get_backend(n) for n in names]
    chapter = load_chapter(CHAPTER, set(target_names()))
    wanted = args.functions.split(",")
    cases = [c for c in chapter.cases if c.name in wanted]
    rng = np.random.default_rng(0)
    shapes = [{"n": 4, "k": 5, "h": 8, "m": 3}, {"n": 2, "k": 3, "h": 4, "m": 2}]
    calls = []
    for i in range(args.examples):
        case = cases[i % len(cases)]
        row = case.rows[(i // len(cases)) % len(case.rows)]
        calls.append((row.callee, case.args_for(row, inputs_for(case, shapes[i % len(shapes)], rng))))

    env = worker_env("cpu", None)
    rows = []
    for b in backends:
        python = env_python(b.environment.name)
        if python is None:
            rows.append((b.name, None, None, f"no .venv-{b.environment.name}"))
            continue
        worker = WorkerClient(str(python), env=env, name=b.name, call_timeout=300, start_timeout=300)
        try:
            probe = worker.probe(list(b.environment.packages))
            if not all(r["ok"] for r in probe["packages"].values()):
                rows.append((b.name, None, None, "framework not importable"))
                continue
            emit_for(chapter, b)
            h = b.harness
            worker.add_target(TargetSetup(b.name, h.setup, h.to_native, h.to_numpy, "cpu"))
            worker.add_module(b.name, chapter.key, chapter.sources[b.name])
            w = bench_worker(worker, b.name, chapter.key, calls)
        finally:
            worker.close()
        naive = bench_naive(python, b, chapter.sources[b.name], calls[:args.naive], env)
        rows.append((b.name, w, naive, ""))
        print(f"  measured {b.name}", file=sys.stderr)

    print(f"\nfunctions: {', '.join(c.name for c in cases)} (outputs and gradients); CPU; "
          f"{args.examples} worker calls, {args.naive} naive calls per target\n")
    head = ("target", "worker ex/s", "worker overhead/ex", "compute/ex", "naive ex/s", "naive s/ex", "naive overhead/ex", "speed-up")
    print("  ".join(f"{h:>18}" if i else f"{h:12}" for i, h in enumerate(head)))
    for name, w, n, why in rows:
        if w is None:
            print(f"{name:12}  {'skipped: ' + why}")
            continue
        cells = [f"{w['per_s']:.1f}", f"{w['overhead_ms']:.2f} ms", f"{w['compute_ms']:.2f} ms", f"{n['per_s']:.2f}",
                 f"{n['s_per_example']:.2f} s", f"{n['overhead_ms']:.0f} ms", f"{w['per_s'] / n['per_s']:.0f}x"]
        print(f"{name:12}  " + "  ".join(f"{c:>18}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
