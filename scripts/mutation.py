"""Mutation score of the test suite: plant one realistic emitter bug at a time and see whether the suite notices.

Each mutant is a text edit of one file under compiler/ or targets/, applied to a temporary copy of the tree
(never to the checkout). The copy is imported instead of the checkout (PYTHONPATH puts its packages first)
and the mutant's probes run there: the narrowest tests that could kill it (`d2lc test` over the corpus files
that exercise the op, the model cases, the whole-notebook regression tests), then, for survivors, the
exact-code goldens. Every probe first runs on the unmutated copy; a mutant is killed when its probe reports a
failure the unmutated copy does not (the corpus has a few known divergences), and survives otherwise.

    .venv/bin/python scripts/mutation.py                 # every mutant, 2 at a time
    .venv/bin/python scripts/mutation.py --list
    .venv/bin/python scripts/mutation.py --only jax-softmax-axis,tf-bn-momentum --jobs 1

Not part of the CI suite (minutes, not seconds); benchmarks/ and docs/equivalence.md cite its results.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("compiler", "grammar", "targets", "tests", "docs", "sources", "pyproject.toml")
VENVS = (".venv", ".venv-mxnet", ".venv-paddle")
C = "tests/corpus/"


@dataclass(frozen=True)
class Mutant:
    name: str
    file: str
    old: str
    new: str
    probe: tuple[str, ...]  # corpus files for `d2lc test`, or "soundness" (tests/test_soundness.py)
    target: str  # the target compared with PyTorch ("pytorch": compared with JAX)
    models: bool = False  # also run the model cases of the probe files


def m(name, file, old, new, probe, target, models=False) -> Mutant:
    return Mutant(name, file, old, new, tuple(probe.split()), target, models)


T, TF, J, MX, PD = "targets/pytorch/", "targets/tensorflow/", "targets/jax/", "targets/mxnet/", "targets/paddle/"
RED, COMP, LOGIC, IDX, LIN, ELEM, MODELS = (C + f for f in ("reductions.md", "composites.md", "logic.md", "indexing.md",
                                                             "linalg_shape.md", "elementwise.md", "models.md"))


JAX_SUM_ROW = '"sum": with_dtype(Method("sum", axis="axis", keepdims="keepdims")),'


def jax_row(name, row, probe) -> Mutant:
    """A wrong JAX row written over the shared one (JAX takes most reductions and shape ops from emit/base_ops.py)."""
    return m(name, J + "ops.py", JAX_SUM_ROW, JAX_SUM_ROW + "\n    " + row + ",", probe, "jax")
MUTANTS = [
    # PyTorch (the reference: a wrong reference disagrees with the target it is compared with)
    m("torch-mean-as-sum", T + "ops.py", '"mean": Method("mean", dim="axis"', '"mean": Method("sum", dim="axis"', RED, "jax"),
    m("torch-var-unbiased", T + "ops.py", 'cst.Arg(cst.Integer("0"), keyword=cst.Name("correction")',
      'cst.Arg(cst.Integer("1"), keyword=cst.Name("correction")', RED, "jax"),
    m("torch-argmax-keepdims-dropped", T + "ops.py", '"argmax": Method("argmax", dim="axis", keepdim="keepdims")',
      '"argmax": Method("argmax", dim="axis")', RED, "jax"),
    m("torch-stack-default-axis", T + "ops.py", '"stack": Fn("torch.stack", "tensors", dim="axis")', '"stack": Fn("torch.stack", "tensors")',
      LIN, "jax"),
    m("torch-softmax-axis", T + "ops.py", '"softmax": Fn("torch.softmax", "x", dim="!axis")', '"softmax": Fn("torch.softmax", "x", dim="-1")',
      RED, "jax"),
    # TensorFlow
    m("tf-sum-as-mean", TF + "ops.py", '"sum": Fn("tf.reduce_sum"', '"sum": Fn("tf.reduce_mean"', RED, "tensorflow"),
    m("tf-sum-keepdims-dropped", TF + "ops.py", '"sum": Fn("tf.reduce_sum", "x", axis="axis", keepdims="keepdims")',
      '"sum": Fn("tf.reduce_sum", "x", axis="axis")', RED, "tensorflow"),
    m("tf-softmax-axis", TF + "ops.py", '"softmax": ExplicitAxis(Fn("tf.nn.softmax", "x", axis="axis"))',
      '"softmax": ExplicitAxis(Fn("tf.nn.softmax", "x"))',
      RED, "tensorflow"),
    m("tf-argmax-keepdims-axis", TF + "ops.py", 'return call("tf.expand_dims", out, em.arg(node, "axis")) if _keep(node) else out',
      'return call("tf.expand_dims", out, cst.Integer("0")) if _keep(node) else out', RED, "tensorflow"),
    m("tf-var-as-std", TF + "ops.py", '"var": Fn("tf.math.reduce_variance"', '"var": Fn("tf.math.reduce_std"', RED, "tensorflow"),
    m("tf-vecmat-transpose", TF + "ops.py", 'Tmpl("tf.linalg.matvec({y}, {x}, transpose_a=True)")',
      'Tmpl("tf.linalg.matvec({y}, {x}, transpose_a=False)")', LIN, "tensorflow"),
    m("tf-int64-spelling", TF + "__init__.py", 'dtypes=dtype_names("tf")',
      'dtypes={**dtype_names("tf"), __import__("d2lc.core.types").core.types.DType.int64: "tf.int32"}', ELEM + " " + RED, "tensorflow"),
    m("tf-bn-momentum", TF + "models.py", 'if m is not None else cst.Float("0.9")', 'if m is not None else cst.Float("0.1")',
      MODELS, "tensorflow", True),
    m("tf-conv-padding-dropped", TF + "models.py", 'pre.append(call(K + "ZeroPadding2D", self.expr(layer.args["padding"])))',
      'pre.extend([])', MODELS, "tensorflow", True),
    m("tf-pool-default-stride", TF + "models.py", 'strides=self.expr(stride) if stride is not None else self.expr(layer.args["kernel"])',
      # PyTorch-style slip: a pooling window without a stated stride moving by 1 (Keras' own default, strides=None,
      # is the window, so dropping the argument would be an equivalent mutant)
      'strides=self.expr(stride) if stride is not None else cst.Integer("1")', MODELS, "tensorflow", True),
    # JAX
    m("jax-softmax-axis", J + "ops.py", '"softmax": ExplicitAxis(Fn("jax.nn.softmax", "x", axis="axis"))',
      '"softmax": ExplicitAxis(Fn("jax.nn.softmax", "x"))',
      RED, "jax"),
    m("jax-sum-as-mean", J + "ops.py", '"sum": with_dtype(Method("sum"', '"sum": with_dtype(Method("mean"', RED, "jax"),
    jax_row("jax-mean-keepdims-dropped", '"mean": Method("mean", axis="axis")', RED),
    jax_row("jax-var-as-std", '"var": Method("std", axis="axis", keepdims="keepdims")', RED),
    jax_row("jax-argmax-keepdims-dropped", '"argmax": Method("argmax", axis="axis")', RED),
    jax_row("jax-cumsum-flat", '"cumsum": Fn("jnp.cumsum", "x")', RED),
    jax_row("jax-concat-default-axis", '"concat": Fn("jnp.concatenate", "tensors")', LIN),
    m("jax-slice-write-off-by-one", J + "emitter.py", 'at = sub(attr(cst.Name(s.name), cst.Name("at")), self.index(s.index))',
      'at = sub(attr(cst.Name(s.name), cst.Name("at")), [e.with_changes(slice=e.slice.with_changes(upper=binop(e.slice.upper, '
      'cst.Add(), cst.Integer("1")))) if isinstance(e.slice, cst.Slice) and e.slice.upper is not None else e for e in self.index(s.index)])',
      IDX, "jax"),
    m("jax-bn-momentum", J + "models.py", 'if m is not None else cst.Float("0.9")', 'if m is not None else cst.Float("0.1")',
      MODELS, "jax", True),
    m("jax-conv-padding-dropped", J + "models.py", 'padding=self.expr(padding) if has_pad else cst.SimpleString(\'"VALID"\')',
      'padding=cst.SimpleString(\'"VALID"\')', MODELS, "jax", True),
    m("jax-xavier-normal", J + "inits.py", '"xavier": (I + "xavier_uniform", ())', '"xavier": (I + "xavier_normal", ())',
      "inits", "jax"),
    # recurrent layers' default initialisation: Keras' forget-gate bias of 1 left on, flax's orthogonal recurrent
    # kernel kept, Paddle's uniform b_hh kept
    m("tf-lstm-forget-bias", TF + "inits.py", 'fixed={"LSTM": {"unit_forget_bias": "False"}}', "fixed={}", "inits", "tensorflow"),
    m("jax-recurrent-orthogonal", J + "inits.py", '("kernel_init", "recurrent_kernel_init")', '("kernel_init",)', "inits", "jax"),
    m("paddle-recurrent-bias", PD + "inits.py", 'biases=("bias_ih_attr", "bias_hh_attr")', 'biases=("bias_ih_attr",)', "inits", "paddle"),
    # channels-last layout conversions (TensorFlow and JAX)
    m("nhwc-index-hw-swapped", "compiler/emit/layout.py", "out = [full[0], full[2], full[3], full[1]]",
      "out = [full[0], full[3], full[2], full[1]]", MODELS, "jax", True),
    m("nhwc-axis-map-wrong", "compiler/emit/layout.py", "NCHW_TO_NHWC = {0: 0, 1: 3, 2: 1, 3: 2}", "NCHW_TO_NHWC = {0: 0, 1: 3, 2: 2, 3: 1}",
      MODELS, "tensorflow", True),
    # the shared op table (emit/base_ops.py): PyTorch, TensorFlow and JAX take its `where`, so they agree with
    # each other; MXNet, with its own row, shows the bug
    m("base-where-swapped", "compiler/emit/base_ops.py", 'Tmpl(f"{ns}.where({{cond}}, {{x}}, {{y}})")',
      'Tmpl(f"{ns}.where({{cond}}, {{y}}, {{x}})")', LOGIC, "mxnet"),
    # MXNet
    m("mxnet-argmax-keepdims-axis", MX + "ops.py", 'return call("np.expand_dims", out, em.arg(node, "axis"))',
      'return call("np.expand_dims", out, cst.Integer("0"))', RED, "mxnet"),
    # the outer reduction's method name is the one `with_changes(func=...)` writes (the Method row only lends its
    # arguments), so the mutant edits that name: mutating the Method row was an equivalent mutant
    m("mxnet-var-sum-for-mean", MX + "ops.py", 'return outer.with_changes(func=attr(squared, cst.Name("mean")))',
      'return outer.with_changes(func=attr(squared, cst.Name("sum")))', RED, "mxnet"),
    m("mxnet-softmax-axis", MX + "ops.py", '"softmax": Fn("npx.softmax", "x", axis="axis")', '"softmax": Fn("npx.softmax", "x")',
      RED, "mxnet"),
    m("mxnet-where-swapped", MX + "ops.py", 'call("np.where", em.arg(node, "cond"), branch("x", y), branch("y", x))',
      'call("np.where", em.arg(node, "cond"), branch("y", x), branch("x", y))', LOGIC + " " + COMP, "mxnet"),
    m("mxnet-floordiv-ceil", MX + "ops.py", 'out = call("np.floor", quotient)', 'out = call("np.ceil", quotient)', ELEM, "mxnet"),
    m("mxnet-bn-momentum", MX + "models.py", 'self.expr(m)) if keep else None,', 'self.expr(m)) if keep else cst.Float("0.1"),',
      MODELS, "mxnet", True),
    m("mxnet-dense-flattens", MX + "models.py", 'cst.Arg(cst.Name("False"), keyword=cst.Name("flatten")',
      'cst.Arg(cst.Name("True"), keyword=cst.Name("flatten")', MODELS, "mxnet", True),
    # Paddle
    m("paddle-var-unbiased", PD + "ops.py", 'cst.Arg(cst.Name("False"), keyword=cst.Name("unbiased")',
      'cst.Arg(cst.Name("True"), keyword=cst.Name("unbiased")', RED, "paddle"),
    m("paddle-sum-keepdims-dropped", PD + "ops.py", '"sum": with_dtype(_reduce("sum")),',
      '"sum": with_dtype(Method("sum", axis="axis")),', RED, "paddle"),
    m("paddle-softmax-axis", PD + "ops.py", '"softmax": Fn("paddle.nn.functional.softmax", "x", axis="axis")',
      '"softmax": Fn("paddle.nn.functional.softmax", "x")', RED, "paddle"),
    m("paddle-cumsum-flat", PD + "ops.py", '"cumsum": Method("cumsum", axis="axis")', '"cumsum": Method("cumsum")', RED, "paddle"),
    # optimizers: a framework default that changes PyTorch's formula (the model cases step every optimizer)
    m("jax-rmsprop-eps-in-sqrt", J + "optimizers.py", 'eps_in_sqrt=cst.Name("False"))', 'eps_in_sqrt=cst.Name("True"))',
      MODELS, "jax", True),
    m("tf-adagrad-accumulator", TF + "optimizers.py", 'initial_accumulator_value=cst.Float("0.0"), epsilon=eps)',
      'initial_accumulator_value=cst.Float("0.1"), epsilon=eps)', MODELS, "tensorflow", True),
    m("mxnet-rmsprop-gamma", MX + "optimizers.py", 'items["gamma1"] = em.expr(value(c, "alpha"))', 'items["gamma1"] = cst.Float("0.9")',
      MODELS, "mxnet", True),
]


SOURCE = [ROOT]  # where copies come from: the checkout, or a snapshot of it taken when the run starts


def make_copy(tmp: Path) -> Path:
    """A copy of the tree that Python imports as d2lc / d2lc_targets (PYTHONPATH=<copy>/.pp)."""
    tree = tmp / "tree"
    tree.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".d2lc-cache", "reports", ".pp", ".venv*")
    for name in COPIED:
        src = SOURCE[0] / name
        (shutil.copytree(src, tree / name, ignore=ignore) if src.is_dir() else shutil.copy2(src, tree / name))
    for v in VENVS:
        if (ROOT / v).exists():
            (tree / v).symlink_to((ROOT / v).resolve())
    if not (tree / "compiler" / "grammar").exists():  # copied from a snapshot, the link came along as a folder
        (tree / "compiler" / "grammar").symlink_to(tree / "grammar")
    pp = tree / ".pp"
    pp.mkdir()
    (pp / "d2lc").symlink_to(tree / "compiler")
    (pp / "d2lc_targets").symlink_to(tree / "targets")
    return tree


def plant(tree: Path, mutant: Mutant) -> None:
    path = tree / mutant.file
    text = path.read_text(encoding="utf-8")
    count = text.count(mutant.old)
    if count != 1:
        raise SystemExit(f"mutant {mutant.name}: the text to replace occurs {count} times in {mutant.file}")
    path.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")


def probe_commands(mutant: Mutant, tree: Path) -> list[list[str]]:
    py = str(tree / ".venv" / "bin" / "python")
    cache = str(ROOT / ".d2lc-cache")
    if mutant.probe == ("soundness",):
        return [[py, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests/test_soundness.py"]]
    if mutant.probe == ("inits",):
        return [[py, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests/test_layer_inits.py", "-k", mutant.target]]
    targets = "pytorch," + mutant.target if mutant.target != "pytorch" else "pytorch,jax"
    cmd = [py, "-m", "d2lc.cli.main", "test", *mutant.probe, f"--targets={targets}", "--examples=3", "--seed=0", "--no-goldens",
           "--timeout=120", f"--reports-dir={tree / 'reports'}", f"--cache-dir={cache}"]
    if not mutant.models:
        cmd.append("--no-models")
    return [cmd]


GOLDENS = ["tests/test_golden.py", "tests/test_target_goldens.py"]


FINDING = re.compile(r"^(?:FAIL|error): (.+?) on (\S+):")
MODEL_FINDING = re.compile(r"^\s+(\w+ \w+): (?:FAIL|error)")


def run_commands(cmds: list[list[str]], tree: Path, timeout: float) -> tuple[int, set[str], str]:
    """(exit status, what the run reported as failing, a line saying why) of the probe commands, in order."""
    env = {**os.environ, "PYTHONPATH": str(tree / ".pp"), "TF_CPP_MIN_LOG_LEVEL": "2", "D2LC_TEST_TRACEBACKS": ""}
    for cmd in cmds:
        try:
            r = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return 124, {"timeout"}, f"timed out after {timeout:.0f} s"
        if r.returncode != 0:
            found, section, why = set(), "", ""
            for line in (r.stdout + r.stderr).splitlines():
                if re.match(r"^\w+:$", line):
                    section = line[:-1]
                hit = FINDING.match(line)
                model = MODEL_FINDING.match(line)
                if hit or model or line.startswith(("chapter does not compile", "E  ", "FAILED")):
                    found.add(f"{hit.group(1)} on {hit.group(2)}" if hit else f"{section}: {model.group(1)}" if model else line.strip()[:120])
                    why = why or line.strip()[:160]
            return r.returncode, found, why or (r.stdout + r.stderr).strip().splitlines()[-1][:160]
    return 0, set(), ""


def probe_key(mu: Mutant) -> tuple:
    return (mu.probe, mu.target, mu.models)


def evaluate(mutant: Mutant, timeout: float, goldens: bool, baseline: dict) -> dict:
    """killed: the probe reports a failure the unmutated tree does not (or crashes where it passed)."""
    with tempfile.TemporaryDirectory(prefix="d2lc-mutant-") as tmp:
        tree = make_copy(Path(tmp))
        plant(tree, mutant)
        start = time.monotonic()
        rc, found, why = run_commands(probe_commands(mutant, tree), tree, timeout)
        base_rc, base_found, _ = baseline[probe_key(mutant)]
        new = found - base_found
        killed = rc != 0 and (bool(new) or base_rc == 0)
        status = "killed" if killed else "survived"
        if killed and new:
            why = sorted(new)[0]
        if not killed and goldens:
            py = str(tree / ".venv" / "bin" / "python")
            grc, _, why_golden = run_commands([[py, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *GOLDENS]], tree, timeout)
            if grc != 0:
                status, why = "golden-only", why_golden
        return {"name": mutant.name, "target": mutant.target, "status": status, "why": why, "seconds": time.monotonic() - start}


def run_baselines(mutants: list[Mutant], timeout: float, jobs: int) -> dict:
    """Every distinct probe on the unmutated snapshot: what it reports failing there is not the mutants' doing."""
    seen: dict[tuple, Mutant] = {}
    for mu in mutants:
        seen.setdefault(probe_key(mu), mu)
    out = {}
    with tempfile.TemporaryDirectory(prefix="d2lc-mutant-") as tmp:
        tree = make_copy(Path(tmp))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            runs = pool.map(lambda mu: (mu, run_commands(probe_commands(mu, tree), tree, timeout)), seen.values())
            for mu, result in runs:
                out[probe_key(mu)] = result
                shown = f"{' '.join(mu.probe)} on {mu.target}{' (models)' if mu.models else ''}"
                print(f"baseline {'ok  ' if result[0] == 0 else 'FAIL'} {shown} {sorted(result[1])}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated mutant names")
    parser.add_argument("--jobs", type=int, default=2, help="mutants checked at once (default 2)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per probe command (default 600)")
    parser.add_argument("--no-goldens", dest="goldens", action="store_false", help="do not try the goldens on survivors")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--out", help="also append one JSON line per mutant to this file")
    args = parser.parse_args(argv)
    if args.list:
        for mu in MUTANTS:
            print(f"{mu.name:34} {mu.file:30} probe: {' '.join(mu.probe)} ({mu.target})")
        return 0
    chosen = [mu for mu in MUTANTS if not args.only or mu.name in args.only.split(",")]
    for mu in chosen:  # every edit must apply before minutes are spent
        text = (ROOT / mu.file).read_text(encoding="utf-8")
        if text.count(mu.old) != 1:
            raise SystemExit(f"mutant {mu.name}: the text to replace occurs {text.count(mu.old)} times in {mu.file}")
    start = time.monotonic()
    results = []
    snapshot = tempfile.TemporaryDirectory(prefix="d2lc-mutation-snapshot-")
    SOURCE[0] = make_copy(Path(snapshot.name))  # edits to the checkout during the run do not leak into mutants
    base = run_baselines(chosen, args.timeout, args.jobs)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(evaluate, mu, args.timeout, args.goldens, base) for mu in chosen]
        for future in as_completed(futures):
            r = future.result()
            print(f"{r['status']:11} {r['name']:34} {r['seconds']:6.0f}s  {r['why']}", flush=True)
            results.append(r)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(r) + "\n")
    killed = sum(r["status"] == "killed" for r in results)
    golden = sum(r["status"] == "golden-only" for r in results)
    print(f"\nmutation score: {killed}/{len(results)} killed by behaviour ({100 * killed / max(len(results), 1):.0f}%)"
          f"{f', {golden} more only by exact-code goldens' if golden else ''}; {time.monotonic() - start:.0f} s")
    for r in results:
        if r["status"] != "killed":
            print(f"  {r['status']}: {r['name']}")
    snapshot.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
