"""Training-step speed: the generated MLP, LeNet, GRU and Transformer against the best alternatives, per framework.

benchmarks/models.md defines the models in the DSL. It is compiled in-process for each framework;
the generated notebook code (setup, models, parameters with overrides, data, one model's training
cell) runs as a script. It is timed against (a) benchmarks/reference/<framework>.py, which trains
the same model the way that framework's own tutorials do, and (b) on TensorFlow and JAX, Keras 3
`fit` (benchmarks/reference/keras.py) on that backend (KERAS_BACKEND is set for the framework's
worker process). All run in one subprocess per framework (its own environment's python), on the
same synthetic Fashion-MNIST IDX files (tests/fakedata.py), batch size, epoch count, optimizer
(SGD, lr 0.1) and per-epoch validation pass; each round rotates which kind goes first.

--save-generated DIR writes the generated scripts (and the settings they were made with) to DIR;
a later run with --baseline DIR times them as a fourth kind, "baseline", in the same rounds, so a
change to the emitted code is measured before/after under the same load.

Time per step = time from the end of the warm-up epoch to the end of the last epoch (training
plus validation, as every side does them every epoch), divided by the optimizer steps in those
epochs. The warm-up epoch absorbs JIT compilation (jax.jit, tf.function), lazy-layer shape
inference and first-call costs (JAX workers share a persistent compilation cache, so later
rounds' warm-ups are shorter; the timed spans compile nothing either way). Epoch ends are read off the `epoch N: ...` lines every side
prints: `print` is replaced by a recorder, so nothing is written while timing, and the plot the
generated `train` draws after its last epoch is outside the timed span. Both the wall time and the
CPU time (process, all threads) of that span are kept; CPU time is disturbed less by other load
on the machine but does not see time spent waiting. The table gives the median over rounds of the
ms per step, and each ratio as the median over rounds of that round's ratio (the two sides of a
ratio ran back to back, under the same load).

Every framework runs with one intra-op thread by default (--threads): on a small or shared
machine, spinning OpenMP/Eigen pools make small steps erratic (PyTorch's MLP step went from 13 ms
to 100-400 ms with 2 threads on a busy 2-core box).

--device cpu (default) hides any GPU from every framework; --device gpu runs where a GPU is visible
(the generated code and the references use it by default) and skips a framework that sees none,
failing when none does.

Run: .venv/bin/python benchmarks/training.py [--frameworks pytorch,jax] [--models lenet,gru]
     [--epochs 3] [--batch-size 256] [--rounds 3] [--threads 1] [--device cpu] [--verbose]
     [--save-generated DIR] [--baseline DIR]
A ratio is generated / alternative: above 1 means the generated code is slower.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "benchmarks" / "models.md"
REFERENCES = ROOT / "benchmarks" / "reference"
FRAMEWORKS = ("pytorch", "tensorflow", "jax", "mxnet")
MODELS = {"mlp": "MLP", "lenet": "LeNet", "gru": "GRUClassifier", "transformer": "Transformer"}  # name in models.md
KERAS_BACKENDS = {"tensorflow": "tensorflow", "jax": "jax"}  # frameworks timed against Keras 3 fit on that backend
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
    if kind in ("generated", "baseline"):
        runpy.run_path(job[kind][model], init_globals={"print": clock}, run_name="__main__")
    else:
        ns = runpy.run_path(job[kind], init_globals={"print": clock}, run_name=f"{kind}_{job['framework']}")
        ns["main"](model, root="../data", batch_size=job["batch_size"], epochs=total_epochs, lr=LR, device=job["device"])
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


def gpu_count(framework: str) -> int:
    """How many GPUs the framework sees."""
    if framework == "pytorch":
        import torch
        return torch.cuda.device_count()
    if framework == "tensorflow":
        import tensorflow as tf
        return len(tf.config.list_physical_devices("GPU"))
    if framework == "jax":
        import jax
        try:
            return len(jax.devices("gpu"))
        except RuntimeError:  # no GPU backend
            return 0
    import mxnet
    return mxnet.context.num_gpus()


NO_GPU = 3  # the worker's exit status when --device gpu finds none


def worker(job_path: str) -> None:
    job = json.loads(Path(job_path).read_text())
    if job["device"] == "gpu" and gpu_count(job["framework"]) == 0:
        print(f"{job['framework']}: --device gpu, but it sees no GPU", file=sys.stderr)
        sys.exit(NO_GPU)
    if job["threads"]:
        limit_threads(job["framework"], job["threads"])
    results = []
    for r in range(job["rounds"]):
        for model in job["models"]:
            kinds = job["kinds"]
            order = kinds[r % len(kinds):] + kinds[:r % len(kinds)]  # each kind goes first in turn
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


def per_step(results: list[dict], model: str, kind: str, steps: int, key: str) -> dict[int, float]:
    """ms per step of one model and kind, by round."""
    return {r["round"]: r[key] / steps * 1000 for r in results if r["model"] == model and r["kind"] == kind}


def ratio(results: list[dict], model: str, kind: str, other: str, steps: int, key: str) -> float:
    """The median over rounds of KIND / OTHER in that round (both ran back to back, under the same load)."""
    a, b = per_step(results, model, kind, steps, key), per_step(results, model, other, steps, key)
    return statistics.median(a[r] / b[r] for r in a if r in b)


def table_rows(results: list[dict], fw: str, model: str, kinds: list[str], steps: int) -> dict:
    """One table row: median ms per step (CPU and wall) per kind, and the ratios to the alternatives."""
    row = {"model": MODELS[model], "framework": fw}
    for kind in kinds:
        row[f"{kind} cpu ms"] = statistics.median(per_step(results, model, kind, steps, "cpu_seconds").values())
        row[f"{kind} ms"] = statistics.median(per_step(results, model, kind, steps, "seconds").values())
    for kind in ("generated", "baseline"):
        for other in ("reference", "keras"):
            if kind in kinds and other in kinds:
                row[f"{kind}/{other} cpu"] = ratio(results, model, kind, other, steps, "cpu_seconds")
                row[f"{kind}/{other} wall"] = ratio(results, model, kind, other, steps, "seconds")
    return row


def print_table(rows: list[dict]) -> None:
    columns = [c for c in ("generated cpu ms", "baseline cpu ms", "reference cpu ms", "keras cpu ms",
                           "generated/reference cpu", "generated/keras cpu", "baseline/reference cpu", "baseline/keras cpu",
                           "generated/reference wall", "generated/keras wall", "baseline/reference wall", "baseline/keras wall")
               if any(c in row for row in rows)]
    short = {c: c.replace("generated", "gen").replace("baseline", "base").replace("reference", "ref").replace(" ms", "")
             for c in columns}
    print(f"{'model':14} {'framework':11} " + " ".join(f"{short[c]:>{max(9, len(short[c]))}}" for c in columns))
    for row in rows:
        cells = []
        for c in columns:
            width = max(9, len(short[c]))
            value = row.get(c)
            cells.append(f"{'-':>{width}}" if value is None else f"{value:{width}.2f}")
        print(f"{row['model']:14} {row['framework']:11} " + " ".join(cells))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma-separated (default: all four)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated: " + ", ".join(MODELS))
    ap.add_argument("--epochs", type=int, default=3, help="timed epochs, after one warm-up epoch (default 3)")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--rounds", type=int, default=3,
                    help="runs of every kind per model, rotating which goes first; medians are reported (default 3)")
    ap.add_argument("--threads", type=int, default=1,
                    help="intra-op threads for every framework (default 1: stable on a shared or busy machine, where "
                         "spinning OpenMP/Eigen pools distort small steps); 0 keeps each framework's default")
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                    help="cpu (default): GPUs hidden; gpu: a framework that sees no GPU is skipped, and none seeing one fails")
    ap.add_argument("--no-keras", action="store_true", help="leave out Keras 3 fit")
    ap.add_argument("--save-generated", type=Path, help="write the generated scripts to this folder (for a later --baseline)")
    ap.add_argument("--baseline", type=Path, help="also time the generated scripts --save-generated wrote to this folder")
    ap.add_argument("--train-size", type=int, default=4096, help="synthetic training images (default 4096)")
    ap.add_argument("--val-size", type=int, default=512, help="synthetic validation images (default 512)")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per framework")
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
    if args.train_size % args.batch_size:
        ap.error("--train-size must be a multiple of --batch-size, so every side takes the same steps "
                 "(the generated JAX step drops a partial last batch)")

    sys.path.insert(0, str(ROOT / "tests"))
    from fakedata import write_fashion_mnist
    from d2lc.build.sampledata import data_env

    steps = args.train_size // args.batch_size * args.epochs
    overrides = {"batch_size": args.batch_size, "epochs": args.epochs + 1, "lr": LR}
    if args.baseline:
        saved = json.loads((args.baseline / "settings.json").read_text())
        if saved != overrides:
            ap.error(f"--baseline {args.baseline} was saved with {saved}, this run uses {overrides}")
    env = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONHASHSEED": "0"}
    if args.device == "cpu":
        env.update(CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    if args.threads:
        n = str(args.threads)
        env.update(OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n, TF_NUM_INTRAOP_THREADS=n,
                   TF_NUM_INTEROP_THREADS=n, MXNET_CPU_WORKER_NTHREADS=n,
                   XLA_FLAGS=f"{os.environ.get('XLA_FLAGS', '')} --xla_cpu_multi_thread_eigen={'true' if args.threads > 1 else 'false'} "
                             f"intra_op_parallelism_threads={n}".strip())
    rows, skipped, no_gpu = [], [], []
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    if args.save_generated:
        args.save_generated.mkdir(parents=True, exist_ok=True)
        (args.save_generated / "settings.json").write_text(json.dumps(overrides))
    with tempfile.TemporaryDirectory(prefix="d2lc-train-bench-") as tmp:
        tmp = Path(tmp)
        write_fashion_mnist(tmp / "data", args.train_size, args.val_size)
        env.update(data_env(tmp / "data"))  # the generated loaders' data hub reads the synthetic files
        work = tmp / "work"  # the references read ../data/fashion-mnist
        work.mkdir()
        # XLA programs compiled in one run's warm-up epoch are reused by the later rounds' (untimed either way)
        jax_cache = {"JAX_COMPILATION_CACHE_DIR": str(tmp / "jax-cache"), "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}
        for fw in frameworks:
            python = python_for_target(fw)
            if python is None:
                skipped.append(fw)
                print(f"{fw}: environment not installed, skipped", file=sys.stderr)
                continue
            kinds = ["generated", "reference"]
            if fw in KERAS_BACKENDS and not args.no_keras:
                kinds.append("keras")
            job = {"framework": fw, "models": models, "epochs": args.epochs, "batch_size": args.batch_size,
                   "rounds": args.rounds, "threads": args.threads, "verbose": args.verbose, "device": args.device,
                   "reference": str(REFERENCES / f"{fw}.py"), "keras": str(REFERENCES / "keras.py"), "kinds": kinds,
                   "generated": {}, "output": str(tmp / f"{fw}.results.json")}
            for model, src in generated_scripts(fw, models, overrides).items():
                path = work / f"generated_{fw}_{model}.py"
                path.write_text(src, encoding="utf-8")
                job["generated"][model] = str(path)
                if args.save_generated:
                    (args.save_generated / path.name).write_text(src, encoding="utf-8")
            if args.baseline:
                job["baseline"] = {m: str(args.baseline / f"generated_{fw}_{m}.py") for m in models}
                missing = [p for p in job["baseline"].values() if not Path(p).is_file()]
                if missing:
                    ap.error(f"--baseline: {', '.join(missing)} missing (saved without this framework or model?)")
                kinds.insert(1, "baseline")
            job_path = tmp / f"{fw}.job.json"
            job_path.write_text(json.dumps(job))
            t0 = time.perf_counter()
            proc = subprocess.run([str(python), str(Path(__file__).resolve()), "--worker", str(job_path)], cwd=work,
                                  env={**env, "KERAS_BACKEND": KERAS_BACKENDS.get(fw, "tensorflow"), **jax_cache},
                                  stdout=subprocess.PIPE, stderr=None if args.verbose else subprocess.PIPE, text=True,
                                  timeout=args.timeout)
            if proc.returncode == NO_GPU:
                no_gpu.append(fw)
                print(f"{fw}: sees no GPU, skipped", file=sys.stderr)
                continue
            if proc.returncode != 0:
                print(f"{fw}: worker failed (exit {proc.returncode}):\n{(proc.stderr or '')[-4000:]}", file=sys.stderr)
                skipped.append(fw)
                continue
            results = json.loads(Path(job["output"]).read_text())
            rows += [table_rows(results, fw, model, kinds, steps) for model in models]
            print(f"{fw}: done in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    if args.device == "gpu" and not rows and no_gpu:
        raise SystemExit(f"--device gpu: no framework sees a GPU ({', '.join(no_gpu)}); run on a machine with one, "
                         "or use --device cpu")

    print(f"\nms per training step (training + per-epoch validation), median of {args.rounds} round(s): batch "
          f"{args.batch_size}, {args.train_size} train / {args.val_size} val images, {args.epochs} timed epochs after "
          f"1 warm-up ({steps} steps); device {args.device}; threads: {args.threads or 'framework default'}; "
          f"{os.cpu_count()} CPUs, load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    print_table(sorted(rows, key=lambda r: (list(MODELS.values()).index(r["model"]), FRAMEWORKS.index(r["framework"]))))
    print("cpu = CPU ms per step (process, all threads; less disturbed by other load, blind to waiting); gen/ref cpu = "
          "generated / reference CPU time, median of the per-round ratios (> 1: generated is slower); keras = Keras 3 "
          "fit on that backend; base = the --baseline scripts; wall = the same ratio for wall time")
    if skipped or no_gpu:
        print(f"skipped: {', '.join(skipped + [f'{f} (no GPU)' for f in no_gpu])}")
    print(f"total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
