"""Where the time of the notebook comparison (tests/test_notebook_equivalence.py) goes: per notebook and per
target, the wall seconds of its run and the CPU seconds of the target's worker process (utime + stime of
/proc/PID/stat, children included), run as the test runs them (one long-lived worker per target, the
environments in parallel, the book's small parameters, the sample data sets), then the comparison.

Run: .venv/bin/python benchmarks/notebook_profile.py [--cold] [--json FILE] [--top K] GLOB...
  GLOB matches sections under sources/ (e.g. 'chapter_preliminaries/*'); every installed target runs each.
  --cold: a fresh JAX compile cache (the test's is .d2lc-cache/jax, warm after the first run).
  The report ends with the verdict rows (divergences), to compare before and after a change.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from d2lc.build.envs import installed_backends
from d2lc.emit.backend import target_names
from d2lc.harness.notebooks import NotebookReport, compare_program, fake_data_root, prepare_all, run_one
from d2lc.harness.session import Session

ROOT = Path(__file__).resolve().parent.parent
TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds of a process and its reaped children (fields 14-17 of /proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICKS


def worker_cpu(session: Session, target: str) -> float:
    return sum(proc_cpu(w.proc.pid) for w in session.workers_of(target) if w.proc is not None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("globs", nargs="+")
    ap.add_argument("--cold", action="store_true", help="a fresh JAX compile cache")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--top", type=int, default=15)
    args = ap.parse_args()
    os.chdir(ROOT)
    files = sorted(p for p in Path("sources").rglob("*.md")
                   if any(fnmatch.fnmatch(p.relative_to("sources").as_posix(), g) for g in args.globs))
    backends = installed_backends(target_names())
    report = NotebookReport()
    t0 = time.perf_counter()
    programs = prepare_all(files, backends, report)
    prepare_s = time.perf_counter() - t0
    cache = Path(tempfile.mkdtemp(prefix="d2lc-nbprof-cache-")) if args.cold else ROOT / ".d2lc-cache"
    root = fake_data_root()
    rows: list[dict] = []
    start: dict[str, dict] = {}
    lock = threading.Lock()
    with Session(backends, cache_dir=cache) as session:
        t0 = time.perf_counter()
        session.start()
        start_wall = time.perf_counter() - t0
        for name in session.available():
            start[name] = {"wall": start_wall, "cpu": worker_cpu(session, name)}
        by_env: dict[str, list[str]] = {}
        for name in session.available():
            by_env.setdefault(session.targets[name].backend.environment.name, []).append(name)
        outcomes: dict[tuple[str, str], object] = {}

        def run_env(targets: list[str]) -> None:
            for name in targets:
                for k, program in enumerate(programs):
                    if name not in program.cells:
                        continue
                    c0, w0 = worker_cpu(session, name), time.perf_counter()
                    out = run_one(session, name, program, f"notebook{k}", root / "nb")
                    row = {"notebook": program.path, "target": name, "wall": time.perf_counter() - w0,
                           "cpu": worker_cpu(session, name) - c0, "errors": len(out.errors)}
                    with lock:
                        outcomes[(program.path, name)] = out
                        rows.append(row)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=run_env, args=(ts,)) for ts in by_env.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        run_wall = time.perf_counter() - t0
    for program in programs:
        compare_program(program, {t: o for (p, t), o in outcomes.items() if p == program.path}, "pytorch", report)
    targets = sorted({r["target"] for r in rows})
    print(f"{len(programs)} notebooks, prepare {prepare_s:.1f} s, session start {start_wall:.1f} s wall, "
          f"runs {run_wall:.1f} s wall, load {os.getloadavg()[0]:.1f}")
    print(f"{'target':12} {'start cpu':>9} {'run wall':>9} {'run cpu':>9}")
    for t in targets:
        mine = [r for r in rows if r["target"] == t]
        print(f"{t:12} {start.get(t, {}).get('cpu', 0):9.1f} {sum(r['wall'] for r in mine):9.1f} "
              f"{sum(r['cpu'] for r in mine):9.1f}")
    print(f"\nthe {args.top} costliest (notebook, target) by CPU:")
    for r in sorted(rows, key=lambda r: -r["cpu"])[:args.top]:
        print(f"  {r['cpu']:7.1f} cpu {r['wall']:7.1f} wall  {r['target']:11} {r['notebook']}")
    verdicts = sorted(f"{d.key} | {d.target} | {d.message}" for d in report.divergences)
    print(f"\n{report.compared} values compared ({report.by_value} by value), {len(verdicts)} divergences:")
    for v in verdicts:
        print("  " + v)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "start": start, "run_wall": run_wall, "compared": report.compared,
                                         "by_value": report.by_value, "verdicts": verdicts}, indent=1))


if __name__ == "__main__":
    main()
