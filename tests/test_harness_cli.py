"""`d2lc test` from the command line: exit codes, the matrix, reports."""
import json

import pytest

from d2lc.cli.main import main

pytest.importorskip("torch")

GOOD = '''# Good
```d2l
def softmax(X: f32[n, k]) -> f32[n, k]:
    E = exp(X)
    return E / E.sum(axis=1, keepdims=True)
```
'''
NO_VALID_INPUT = '''# Bad
```d2l
def fixed_reshape(X: f32[n, 7]):
    return X.reshape(3, 5)
```
'''


def _args(tmp_path, path, *extra):
    return ["test", str(path), "--targets=pytorch", "--examples=3", "--seed=5", "--cache-dir=none",
            f"--reports-dir={tmp_path / 'reports'}", *extra]


def test_passing_run_writes_reports(tmp_path, capsys):
    ch = tmp_path / "good.md"
    ch.write_text(GOOD)
    code = main(_args(tmp_path, ch, "--report", str(tmp_path / "out" / "matrix")))
    out, err = capsys.readouterr()
    assert code == 0
    assert "seed 5" in err and "good:softmax d/dX" in out and "pass" in out
    data = json.loads((tmp_path / "out" / "matrix.json").read_text())
    assert data["seed"] == 5 and data["ok"] and [r["label"] for r in data["rows"]] == ["softmax", "softmax d/dX"]
    assert data["rows"][0]["cells"]["pytorch"]["status"] == "pass"
    assert "| `good:softmax` |" in (tmp_path / "out" / "matrix.md").read_text()


def test_error_exits_nonzero(tmp_path, capsys):
    ch = tmp_path / "bad.md"
    ch.write_text(NO_VALID_INPUT)
    assert main(_args(tmp_path, ch)) == 1
    assert "no valid input" in capsys.readouterr().out


def test_replay_needs_function(tmp_path):
    with pytest.raises(SystemExit):
        main(["test", "--replay", str(tmp_path / "x.npz")])


def test_a_named_target_gets_coverage_goldens_and_models(tmp_path, capsys, monkeypatch):
    """`d2lc test --targets=NAME` also prints NAME's op coverage (missing ops listed) and fails on a gap."""
    from d2lc.emit.backend import get_backend, registry
    torch = get_backend("pytorch")
    planted = torch.derive(name="planted", aliases=(), ops={k: v for k, v in torch.ops.items() if k != "tanh"})
    monkeypatch.setitem(registry(), "planted", planted)
    ch = tmp_path / "good.md"
    ch.write_text(GOOD)
    args = ["test", str(ch), "--examples=2", "--seed=5", "--cache-dir=none", f"--reports-dir={tmp_path / 'reports'}"]
    assert main([*args, "--targets=planted"]) == 1
    out = capsys.readouterr().out
    assert "planted:\n  coverage     FAIL" in out and "missing (1): tanh" in out
    assert "goldens " in out and "models       skip  no models in" in out
    assert main([*args, "--targets=pytorch"]) == 0
    out = capsys.readouterr().out
    assert "pytorch:\n  coverage     ok    " in out
