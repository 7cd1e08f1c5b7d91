"""benchmarks/training.py: the models it times, how it turns rounds into ratios, and the train helpers' host syncs."""
from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("pytorch", "tensorflow", "jax", "mxnet", "paddle")


def load_bench():
    spec = importlib.util.spec_from_file_location("training_bench", ROOT / "benchmarks" / "training.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_script_trains_only_its_own_model():
    bench = load_bench()
    scripts = bench.generated_scripts("pytorch", list(bench.MODELS), {"batch_size": 64, "epochs": 2, "lr": 0.1})
    assert set(scripts) == {"mlp", "lenet", "gru", "transformer"}
    for name, src in scripts.items():
        trained = [node.args[0].id for node in ast.walk(ast.parse(src))
                   if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "train"]
        assert trained == [name], f"{name}'s script trains {trained}"
        assert "batch_size = 64" in src and f"class {bench.MODELS[name]}(" in src


def runs(kind: str, cpu_by_round: list[float], model: str = "mlp") -> list[dict]:
    return [{"model": model, "kind": kind, "round": r, "cpu_seconds": cpu, "seconds": 2 * cpu}
            for r, cpu in enumerate(cpu_by_round)]


def test_a_ratio_pairs_the_two_sides_of_each_round():
    bench = load_bench()
    # rounds 1 and 2 ran under load for both sides: per round, generated takes 0.9 of the reference
    results = runs("generated", [0.9, 9.0, 1.8]) + runs("reference", [1.0, 10.0, 2.0])
    row = bench.table_rows(results, "jax", "mlp", ["generated", "reference"], steps=10)
    assert row["generated/reference cpu"] == pytest.approx(0.9)
    assert row["generated/reference wall"] == pytest.approx(0.9)
    # keras was fastest in an unloaded moment (round 0) and slow in the rounds generated ran beside it
    results = runs("generated", [1.0, 1.0, 1.0]) + runs("keras", [0.5, 20.0, 20.0])
    row = bench.table_rows(results, "jax", "mlp", ["generated", "keras"], steps=10)
    assert row["generated/keras cpu"] == pytest.approx(0.05)  # median of 2.0, 0.05, 0.05; min-vs-min would say 2.0
    assert row["generated cpu ms"] == pytest.approx(100.0)


def host_reads_per_batch(target: str) -> list[str]:
    """Calls in the train helper's batch loops that copy a value to the host: float/int/bool/.item()/.numpy()/asnumpy()."""
    tree = ast.parse((ROOT / "targets" / target / "snippets" / "train.py").read_text())
    found = []
    for loop in ast.walk(tree):
        if isinstance(loop, ast.For) and isinstance(loop.target, ast.Tuple):  # for X, y in batches
            for node in ast.walk(loop):
                if isinstance(node, ast.Call):
                    f = node.func
                    name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                    if name in ("float", "int", "bool", "item", "numpy", "asnumpy", "tolist"):
                        found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


@pytest.mark.parametrize("target", TARGETS)
def test_train_helpers_read_the_loss_once_per_epoch(target):
    assert host_reads_per_batch(target) == []


def test_a_planted_per_batch_read_is_caught(tmp_path, monkeypatch):
    snippet = (ROOT / "targets" / "jax" / "snippets" / "train.py").read_text()
    planted = snippet.replace("losses.append(loss)", "losses.append(float(loss))")
    assert planted != snippet
    (tmp_path / "targets" / "jax" / "snippets").mkdir(parents=True)
    (tmp_path / "targets" / "jax" / "snippets" / "train.py").write_text(planted)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert host_reads_per_batch("jax") and "float(loss)" in host_reads_per_batch("jax")[0]


def test_the_tensorflow_and_jax_steps_are_compiled_once_and_jax_donates_its_state():
    tf_src = (ROOT / "targets" / "tensorflow" / "snippets" / "train.py").read_text()
    assert tf_src.count("@tf.function") == 2 and "update_state" in tf_src
    jax_src = (ROOT / "targets" / "jax" / "snippets" / "train.py").read_text()
    assert "jax.jit, donate_argnums=(0, 1, 2))\n    def train_step(params, batch_stats, opt_state," in jax_src
    for name in ("fashion_mnist", "load_array", "time_machine", "synthetic_regression"):
        src = (ROOT / "targets" / "tensorflow" / "snippets" / f"{name}.py").read_text()
        assert src.count(".prefetch(tf.data.AUTOTUNE)") == 2, name
