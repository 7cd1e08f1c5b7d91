"""Training-step speed: the generated MLP and LeNet against a hand-written reference, per framework.

benchmarks/models.md defines both models in the DSL. It is compiled in-process for each framework;
the generated notebook code (setup, models, parameters with overrides, data, one model's training
cell) runs as a script, and benchmarks/reference/<framework>.py trains the same model the way that
framework's own tutorials do. Both run in one subprocess per framework (its own environment's
python), on the same synthetic Fashion-MNIST IDX files (tests/fakedata.py), batch size, epoch
count, optimizer (SGD, lr 0.1) and per-epoch validation pass, alternating which goes first from
round to round.

Time per step = wall time from the end of the warm-up epoch to the end of the last epoch (training
plus validation, as both sides do them every epoch), divided by the optimizer steps in those
epochs; the fastest round is reported. The warm-up epoch absorbs JIT compilation (jax.jit,
tf.function), lazy-layer shape inference and first-call costs on both sides. Epoch ends are read
off the `epoch N: ...` lines both sides print: `print` is replaced by a recorder, so nothing is
written while timing, and the plot the generated `train` draws after its last epoch is outside
the timed span. The same span's CPU time (all threads) gives a second ratio that other load on
the machine disturbs less, but that does not see time spent waiting.

Every framework runs with one intra-op thread by default (--threads): on a small or shared
machine, spinning OpenMP/Eigen pools make small steps erratic (PyTorch's MLP step went from 13 ms
to 100-400 ms with 2 threads on a busy 2-core box).

Run: .venv/bin/python benchmarks/training.py [--frameworks pytorch,jax] [--models lenet]
     [--epochs 3] [--batch-size 256] [--rounds 3] [--threads 1] [--verbose]
The ratio is generated / reference: above 1 means the generated code is slower.
"""
from __future__ import annotations

import argparse
import ast
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "benchmarks" / "models.md"
REFERENCES = ROOT / "benchmarks" / "reference"
FRAMEWORKS = ("pytorch", "tensorflow", "jax", "mxnet")
MODELS = {"mlp": "MLP", "lenet": "LeNet"}  # benchmark name -> model name in models.md
LR = 0.1  # models.md's default, and what the references are given
EPOCH_LINE = re.compile(r"epoch (\d+):")


# ---------------------------------------------------------------------------------------------
# Worker: runs inside one framework's environment (no d2lc there), from a JSON job file.

class EpochClock:
    """Stands in for `print`: stamps the wall and CPU time of each `epoch N: ...` line and keeps the text."""

    def __init__(self, echo: bool = False):
        self.stamps: list[float] = []
        self.cpu_stamps: list[float] = []
        self.lines: list[str] = []
        self.echo = echo

    def __call__(self, *args, **kwargs):
        text = " ".join(str(a) for a in args)
        if EPOCH_LINE.match(text):
            self.stamps.append(time.perf_counter())
            self.cpu_stamps.append(time.process_time())  # all threads of the process
            self.lines.append(text)
        if self.echo:
            print(text, file=sys.stderr, flush=True)


def run_one(job: dict, model: str, kind: str) -> dict:
    import gc
    import runpy

    clock = EpochClock(job["verbose"])
    total_epochs = job["epochs"] + 1
    if kind == "generated":
        runpy.run_path(job["generated"][model], init_globals={"print": clock}, run_name="__main__")
    else:
        ns = runpy.run_path(job["reference"], init_globals={"print": clock}, run_name=f"reference_{job['framework']}")
        ns["main"](model, root="../data", batch_size=job["batch_size"], epochs=total_epochs, lr=LR)
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")
    gc.collect()
    if len(clock.stamps) != total_epochs:
        raise RuntimeError(f"{kind} {model}: expected {total_epochs} epoch lines, got {len(clock.stamps)}: {clock.lines}")
    timed = clock.stamps[-1] - clock.stamps[0]
    return {"model": model, "kind": kind, "seconds": timed, "cpu_seconds": clock.cpu_stamps[-1] - clock.cpu_stamps[0],
            "epoch_seconds": [b - a for a, b in zip(clock.stamps, clock.stamps[1:])],
            "last_line": clock.lines[-1]}


def limit_threads(framework: str, n: int) -> None:
    """Besides the environment variables the driver sets: the frameworks' own thread settings."""
    if framework == "pytorch":
        import torch
        torch.set_num_threads(n)
        torch.set_num_interop_threads(n)
    elif framework == "tensorflow":
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(n)
        tf.config.threading.set_inter_op_parallelism_threads(n)


def worker(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    if job["threads"]:
        limit_threads(job["framework"], job["threads"])
    results = []
    for r in range(job["rounds"]):
        for model in job["models"]:
            order = ("generated", "reference") if r % 2 == 0 else ("reference", "generated")
            for kind in order:
                res = run_one(job, model, kind)
                res["round"] = r
                results.append(res)
                if job["verbose"]:
                    print(f"[{job['framework']} {model} {kind} round {r}] {res['seconds']:.2f}s  {res['last_line']}",
                          file=sys.stderr, flush=True)
    Path(job["output"]).write_text(json.dumps(results))


# ---------------------------------------------------------------------------------------------
# Driver: compiles the chapter, writes the data and scripts, runs one worker per framework.

def definitions_only(src: str) -> str:
    """The imports, functions and classes of a cell's code, decorators included, without its other statements."""
    lines = src.splitlines()
    keep = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    out = []
    for node in ast.parse(src).body:
        if isinstance(node, keep):
            first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            out.append("\n".join(lines[first - 1:node.end_lineno]))
    return "\n\n\n".join(out)


def generated_scripts(target: str, models: list[str], overrides: dict) -> dict[str, str]:
    """Per model: the generated notebook's code for TARGET, with only that model's training statements.

    Every code cell runs in order; the parameters cell is followed by the overrides (as the book
    tests do). In another model's training cell only the definitions (imports, functions, classes)
    are kept, since the generated helpers (e.g. `train`) are emitted in the first cell that uses them.
    """
    from d2lc.emit.backend import get_backend, target_names
    from d2lc.build.checked import compile_chapter
    from d2lc.build.notebook import emit_tagged_cells

    module = compile_chapter(CHAPTER.read_text(encoding="utf-8"), str(CHAPTER), set(target_names()))
    cells = [(src, seed, tags) for kind, src, seed, tags in emit_tagged_cells(module, get_backend(target)) if kind == "code"]
    scripts = {}
    for model in models:
        parts = []
        for src, seed, tags in cells:
            trains = re.findall(r"\b(%s)\(\)" % "|".join(MODELS.values()), seed) if "train(" in seed else []
            if trains and MODELS[model] not in trains:
                src = definitions_only(src)
            parts.append(src)
            if "parameters" in tags:
                names = {line.split("=")[0].strip() for line in src.splitlines() if "=" in line}
                missing = set(overrides) - names
                if missing:
                    raise SystemExit(f"{CHAPTER}: the parameters cell lacks {sorted(missing)}")
                parts.append("\n".join(f"{k} = {v!r}" for k, v in overrides.items()))
        scripts[model] = "\n\n".join(parts) + "\n"
    return scripts


def python_for_target(target: str) -> Path | None:
    from d2lc.emit.backend import get_backend
    from d2lc.build.envs import framework_available, python_for

    backend = get_backend(target)
    python = python_for(backend)
    if python is None or not framework_available(str(python), backend.environment.packages):
        return None
    return python


def summarize(results: list[dict], model: str, kind: str, steps: int, key: str = "seconds") -> float:
    """ms per step: per round, the timed span / steps; the fastest round (the one least disturbed by other load)."""
    return min(r[key] / steps * 1000 for r in results if r["model"] == model and r["kind"] == kind)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated (default: all four)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs, after one warm-up epoch (default 3)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3,
                    help="generated/reference pairs per model, alternating which runs first; the fastest is reported (default 3)")
    ap.add_argument("--threads", type=int, default=1,
                    help="intra-op threads for every framework (default 1: stable on a shared or busy machine, where "
                         "spinning OpenMP/Eigen pools distort small steps); 0 keeps each framework's default")
    ap.add_argument("--train-size", type=int, default=2048, help="synthetic training images (default 2048)")
    ap.add_argument("--val-size", type=int, default=256, help="synthetic validation images (default 256)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per framework")
    ap.add_argument("--verbose", action="store_true", help="echo the epoch lines and per-run times to stderr")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args.worker)

    frameworks = [f for f in args.frameworks.split(",") if f]
    models = [m.lower() for m in args.models.split(",") if m]
    for name, allowed in (("framework", FRAMEWORKS), ("model", MODELS)):
        bad = [x for x in (frameworks if name == "framework" else models) if x not in allowed]
        if bad:
            ap.error(f"unknown {name}(s) {bad}; choose from {', '.join(allowed)}")
    if args.epochs < 1 or args.batch_size < 1 or args.rounds < 1:
        ap.error("--epochs, --batch-size and --rounds must be at least 1")

    sys.path.insert(0, str(ROOT / "tests"))
    from fakedata import write_fashion_mnist

    steps = math.ceil(args.train_size / args.batch_size) * args.epochs  # no loader drops the last batch
    env = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    if args.threads:
        n = str(args.threads)
        env.update(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, TF_NUM_INTRAOP_THREADS=n,
                   TF_NUM_INTEROP_THREADS=n, MXNET_CPU_WORKER_NTHREADS=n,
                   XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_multi_thread_eigen={'true' if args.threads > 1 else 'false'} "
                             f"intra_op_parallelism_threads={n}".strip())
    rows, skipped = [], []
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="d2lc-train-bench-") as tmp:
        tmp = Path(tmp)
        write_fashion_mnist(tmp / "data", args.train_size, args.val_size)
        work = tmp / "work"  # the generated loaders read ../data/fashion-mnist
        work.mkdir()
        overrides = {"batch_size": args.batch_size, "epochs": args.epochs + 1, "lr": LR}
        for fw in frameworks:
            python = python_for_target(fw)
            if python is None:
                skipped.append(fw)
                print(f"{fw}: environment not installed, skipped", file=sys.stderr)
                continue
            job = {"framework": fw, "models": models, "epochs": args.epochs, "batch_size": args.batch_size,
                   "rounds": args.rounds, "threads": args.threads, "verbose": args.verbose, "reference": str(REFERENCES / f"{fw}.py"),
                   "generated": {}, "output": str(tmp / f"{fw}.results.json")}
            for model, src in generated_scripts(fw, models, overrides).items():
                path = work / f"generated_{fw}_{model}.py"
                path.write_text(src, encoding="utf-8")
                job["generated"][model] = str(path)
            job_path = tmp / f"{fw}.job.json"
            job_path.write_text(json.dumps(job))
            t0 = time.perf_counter()
            proc = subprocess.run([str(python), str(Path(__file__).resolve()), "--worker", str(job_path)], cwd=work, env=env,
                                  stdout=subprocess.PIPE, stderr=None if args.verbose else subprocess.PIPE, text=True,
                                  timeout=args.timeout)
            if proc.returncode != 0:
                print(f"{fw}: worker failed (exit {proc.returncode}):\n{(proc.stderr or '')[-4000:]}", file=sys.stderr)
                skipped.append(fw)
                continue
            results = json.loads(Path(job["output"]).read_text())
            for model in models:
                gen, ref = (summarize(results, model, kind, steps) for kind in ("generated", "reference"))
                cpu_gen, cpu_ref = (summarize(results, model, kind, steps, "cpu_seconds") for kind in ("generated", "reference"))
                rows.append((MODELS[model], fw, gen, ref, gen / ref, cpu_gen / cpu_ref))
            print(f"{fw}: done in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)

    print(f"\nwall-clock ms per training step (training + per-epoch validation): batch {args.batch_size}, "
          f"{args.train_size} train / {args.val_size} val images, {args.epochs} timed epochs after 1 warm-up "
          f"({steps} steps); fastest of {args.rounds} round(s); threads: {args.threads or 'framework default'}; "
          f"{os.cpu_count()} CPUs, load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'model':8} {'framework':11} {'generated':>10} {'reference':>10} {'ratio':>7} {'cpu ratio':>10}")
    for model in models:
        for name, fw, gen, ref, ratio, cpu_ratio in rows:
            if name == MODELS[model]:
                print(f"{name:8} {fw:11} {gen:10.2f} {ref:10.2f} {ratio:6.2f}x {cpu_ratio:9.2f}x")
    print("ratio = generated / reference wall time (> 1: generated is slower); cpu ratio = the same for the process's CPU "
          "time, all threads (less disturbed by other load; blind to time spent waiting)")
    if skipped:
        print(f"skipped: {', '.join(skipped)}")
    print(f"total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
