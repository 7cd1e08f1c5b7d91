"""Benchmark of the equivalence harness: batched requests, one request per example, a process per example,
and the CI configuration of the whole suite.

For each installed target it runs the same compiled functions (forward and gradient rows of a
few composite functions from tests/corpus/composites.md) on the same inputs three ways:

  batched   what `d2lc test` does: one long-lived worker per target, all the inputs of a run in one
            request (one reply per call), JAX (and TF, where a signature repeats enough to pay) functions
            traced per input signature: examples per second, for the first request of a fresh worker (cold:
            it traces and compiles) and for the same request again;
  per-call  the same worker, one request per example, every framework eager (the harness before
            batching): examples per second and the per-example overhead beyond the computation;
  naive     a new python process per example, which imports the framework, execs the module,
            converts, calls and writes the result: seconds per example.
Both worker modes are measured after one warm-up call per function and shape.

With --suite it then times the CI configuration of the suite (`d2lc test sources tests/corpus
--examples=5 --seed=0 --no-models --no-notebooks`) three times, in fresh processes: "cold" with an empty
cache folder (no compiled chapters, no JAX compilation cache); "cold, JAX cache kept" with only the JAX
compilation cache that run left (what a fresh checkout sees on a machine that ran the suite before, e.g.
after a compiler change); "warm" with everything that run left. It prints the harness's own split of
the time and the CPU time (the suite's process and its workers) next to the wall time.

    python benchmarks/equivalence.py [--examples N] [--naive N] [--targets a,b] [--functions f,g] [--suite]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
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
from d2lc.harness.session import JIT_ENV, jit_kind, worker_env
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
    """One request per example."""
    for callee, args in calls[:len(calls) // 4 or 1]:
        worker.call(target, key, callee, args)  # warm-up: imports, first-call and per-shape compiles
    n, t_round, t_compute, values = 0, 0.0, 0.0, []
    t0, c0 = time.perf_counter(), cpu_seconds(worker)
    for callee, args in calls:
        reply = worker.call(target, key, callee, args)
        n += 1
        t_round += reply.roundtrip_s
        t_compute += reply.header["compute_s"]
        values.append(reply.value)
    wall, cpu = time.perf_counter() - t0, cpu_seconds(worker) - c0
    return {"per_s": n / wall, "per_cpu_s": n / cpu, "overhead_ms": 1000 * (t_round - t_compute) / n,
            "compute_ms": 1000 * t_compute / n, "values": values}


def cpu_seconds(worker: WorkerClient) -> float:
    """CPU time (user + system, every thread) of the worker process so far, plus this process's."""
    own = time.process_time()
    try:
        fields = Path(f"/proc/{worker.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return own + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, IndexError, ValueError):
        return float("nan")


def bench_batched(worker: WorkerClient, target: str, key: str, calls: list[tuple[str, list[np.ndarray]]]) -> dict:
    """All examples in one request: the first request in a fresh worker (cold: it traces and compiles), then the
    same request again (warm, as the other modes)."""
    worker.ensure(target, key)
    out = {}
    for label in ("first", "warm"):
        t0, c0 = time.perf_counter(), cpu_seconds(worker)
        replies = worker.call_batch(target, key, calls, jit=True)
        wall, cpu = time.perf_counter() - t0, cpu_seconds(worker) - c0
        bad = [r for r in replies if not hasattr(r, "header")]
        if bad or len(replies) != len(calls):
            raise RuntimeError(f"{target}: a batched call failed: {bad[:1]}")
        out[label] = {"per_s": len(calls) / wall, "per_cpu_s": len(calls) / cpu,
                      "jitted": sum(bool(r.header.get("jitted")) for r in replies)}
    compute = sum(r.header["compute_s"] for r in replies)
    return {**out["warm"], "first_per_s": out["first"]["per_s"], "first_per_cpu_s": out["first"]["per_cpu_s"],
            "compute_ms": 1000 * compute / len(calls), "values": [r.value for r in replies]}


def same_values(a, b) -> bool:
    """Batched (jitted) and per-call (eager) outputs agree to float32 rounding."""
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b))
    return np.allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), rtol=1e-5, atol=1e-6)


def time_suite(cache: Path, reports: Path) -> dict:
    """The CI configuration of the suite in a fresh process: wall seconds and the harness's own timings."""
    report = reports / "matrix"
    cmd = [sys.executable, "-m", "d2lc.cli.main", "test", "sources", "tests/corpus", "--examples=5", "--seed=0",
           "--no-models", "--no-notebooks", f"--cache-dir={cache}", f"--reports-dir={reports}", "--report", str(report)]
    t0, c0 = time.perf_counter(), os.times()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    if not report.with_suffix(".json").exists():
        raise RuntimeError(f"the suite wrote no report (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    data = json.loads(report.with_suffix(".json").read_text())
    return {"wall_s": wall, "cpu_s": cpu, "exit": proc.returncode, "counts": data["counts"], "timings": data["timings"],
            "compute_s": {t: v["compute_s"] for t, v in data["target_timing"].items()}}


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
    ap.add_argument("--suite", action="store_true", help="also time the CI configuration of the suite, cold and warm")
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
            rows.append((b.name, None, None, None, f"no .venv-{b.environment.name}"))
            continue
        h = b.harness
        measured = []
        for jit in (None, jit_kind(b)):  # per call and eager, then batched and (JAX) jitted
            extra = dict(getattr(h, "env", ())) | (JIT_ENV if jit and "XLA_FLAGS" not in os.environ else {})
            worker = WorkerClient(str(python), env={**env, **extra}, name=b.name, call_timeout=300, start_timeout=300)
            try:
                probe = worker.probe(list(b.environment.packages))
                if not all(r["ok"] for r in probe["packages"].values()):
                    break
                emit_for(chapter, b)
                worker.add_target(TargetSetup(b.name, h.setup, h.to_native, h.to_numpy, "cpu", jit=jit))
                worker.add_module(b.name, chapter.key, chapter.sources[b.name])
                if not measured:
                    measured.append(bench_worker(worker, b.name, chapter.key, calls))
                else:
                    measured.append(bench_batched(worker, b.name, chapter.key, calls))
                    measured[-1]["same"] = all(same_values(x, y) for x, y in zip(measured[1]["values"], measured[0]["values"]))
            finally:
                worker.close()
        if len(measured) < 2:
            rows.append((b.name, None, None, None, "framework not importable"))
            continue
        naive = bench_naive(python, b, chapter.sources[b.name], calls[:args.naive], env) if args.naive else None
        rows.append((b.name, measured[1], measured[0], naive, ""))
        print(f"  measured {b.name}", file=sys.stderr)

    print(f"\nfunctions: {', '.join(c.name for c in cases)} (outputs and gradients); CPU; "
          f"{args.examples} worker calls, {args.naive} naive calls per target\n")
    print("ex/s: examples per second of wall time; ex/CPU-s: per second of CPU time (the worker's threads and this\n"
          "process), the steadier figure on a shared machine. 'first batch' is the first request of a fresh worker\n"
          "(it traces and compiles); 'batched' is the same request again.\n")
    head = ("target", "batched ex/s", "batched ex/CPU-s", "traced calls", "first batch ex/s", "first ex/CPU-s",
            "values as per-call", "per-call ex/s", "per-call ex/CPU-s", "per-call overhead", "naive ex/s")
    print("  ".join(f"{h:>18}" if i else f"{h:12}" for i, h in enumerate(head)))
    for name, fast, w, n, why in rows:
        if w is None:
            print(f"{name:12}  {'skipped: ' + why}")
            continue
        cells = [f"{fast['per_s']:.0f}", f"{fast['per_cpu_s']:.0f}", f"{fast['jitted']}/{len(calls)}",
                 f"{fast['first_per_s']:.0f}", f"{fast['first_per_cpu_s']:.0f}", "yes" if fast["same"] else "NO",
                 f"{w['per_s']:.0f}", f"{w['per_cpu_s']:.0f}", f"{w['overhead_ms']:.2f} ms", f"{n['per_s']:.2f}" if n else "-"]
        print(f"{name:12}  " + "  ".join(f"{c:>18}" for c in cells))

    if args.suite:
        print("\nCI configuration of the suite (sources + tests/corpus, 5 examples, seed 0, no models, no notebooks):")
        with tempfile.TemporaryDirectory(prefix="d2lc-bench-suite-") as tmp:
            cache = Path(tmp) / "cache"
            for label in ("cold", "cold, JAX cache kept", "warm"):
                if label.startswith("cold,"):  # keep only the JAX compilation cache of the cold run
                    for entry in cache.iterdir() if cache.exists() else []:
                        if entry.name != "jax":
                            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                r = time_suite(cache, Path(tmp) / f"reports-{label.split(',')[0]}-{len(label)}")
                t = r["timings"]
                split = ", ".join(f"{k[:-2]} {t[k]:.1f}s" for k in ("compile_s", "startup_wait_s", "emit_s", "examples_s"))
                compute = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(r["compute_s"].items()))
                print(f"  {label}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU (exit {r['exit']}; {split}); counts {r['counts']}; "
                      f"compute per target: {compute}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
