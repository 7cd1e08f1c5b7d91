"""Devices (issue 13 part 3): tensors a model makes in its forward follow its input's device, and the PyTorch
`train` helper moves the model and every batch to the device `try_gpu()` picks, which the harness's
`--device=gpu` setup picks with the same helper.

No GPU here, so the checks plant one: PyTorch's `meta` device, which refuses to mix with the CPU
("Tensor on device cpu is not on the expected device meta!"). Each runtime check also runs its planted
bug (the device rule or the batch moves taken out) and asserts that the check then fails.
"""
from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from d2lc.build.checked import compile_chapter
from d2lc.build.notebook import emit_tagged_cells
from d2lc.emit.backend import get_backend, target_names

ROOT = Path(__file__).resolve().parent.parent
BASES = {"pytorch": "nn.Module", "mxnet": "nn.Block"}

CHAPTER = '''# Devices

```d2l
model Counts(vocab_size: int = 5, h: int = 3):
    W = param((vocab_size, h), init=zeros)
    def forward(X: i64[b, t]):
        inputs = (unsqueeze(X, -1) == arange(vocab_size)).astype(float32)
        return inputs @ W + zeros((X.shape[1], h))
```
'''


def _code(nb: Path) -> str:
    cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
    from IPython.core.inputtransformer2 import TransformerManager  # `%pip` in the install cell, as Jupyter reads it

    return "\n".join(TransformerManager().transform_cell("".join(c["source"])) for c in cells if c["cell_type"] == "code")


def _dotted(e: ast.expr) -> str:
    return f"{_dotted(e.value)}.{e.attr}" if isinstance(e, ast.Attribute) else e.id if isinstance(e, ast.Name) else ""


def forward_creations(target: str) -> list[tuple[str, str, bool]]:
    """(notebook, call, has the device keyword) for each creation call in a model method other than __init__."""
    spec = get_backend(target).creation_device
    out = []
    for nb in sorted((ROOT / "generated" / target).rglob("*.ipynb")):
        for cls in ast.walk(ast.parse(_code(nb))):
            if not isinstance(cls, ast.ClassDef) or BASES[target] not in {ast.unparse(b) for b in cls.bases}:
                continue
            for fn in cls.body:
                if not isinstance(fn, ast.FunctionDef) or fn.name == "__init__":
                    continue
                for call in ast.walk(fn):
                    if isinstance(call, ast.Call) and _dotted(call.func) in spec.functions:
                        has = any(k.arg == spec.keyword and ast.unparse(k.value).endswith(f".{spec.attribute}")
                                  for k in call.keywords)
                        out.append((nb.name, ast.unparse(call), has))
    return out


@pytest.mark.parametrize("target", sorted(BASES))
def test_generated_forwards_make_tensors_on_the_input_device(target):
    calls = forward_creations(target)
    assert len(calls) >= 10, "the scan found too few creation calls to mean anything"
    missing = [(nb, c) for nb, c, has in calls if not has]
    assert not missing, f"creation calls in a forward without the input's device: {missing}"


def _model_code(backend) -> str:
    module = compile_chapter(CHAPTER, "devices.md", set(target_names()))
    return "\n\n".join(src for kind, src, _, _ in emit_tagged_cells(module, backend) if kind == "code")


def _run_on_meta(code: str) -> None:
    import torch
    ns: dict = {}
    exec(compile(code, "devices.py", "exec"), ns)
    net = ns["Counts"]().to("meta")
    out = net(torch.zeros((2, 4), dtype=torch.int64, device="meta"))
    assert out.device.type == "meta" and tuple(out.shape) == (2, 4, 3)


def test_a_forward_runs_on_the_device_of_its_input():
    pytest.importorskip("torch")
    backend = get_backend("pytorch")
    code = _model_code(backend)
    assert "device=X.device" in code
    _run_on_meta(code)
    # planted bug: without the device rule, arange and zeros are made on the CPU and the meta forward fails
    planted = _model_code(dataclasses.replace(backend, creation_device=None))
    with pytest.raises(RuntimeError, match="expected device"):
        _run_on_meta(planted)


def _train_on_meta(snippet: str) -> None:
    import torch
    from torch import nn
    ns = {"torch": torch, "nn": nn, "plot_history": lambda history: None, "try_gpu": lambda: torch.device("meta")}
    exec(compile(snippet, "train.py", "exec"), ns)
    X, y = torch.zeros((4, 3)), torch.zeros(4, dtype=torch.int64)  # CPU batches, as the data loaders give them
    data = ([(X, y), (X, y)], [(X, y)])
    ns["train"](nn.Linear(3, 2), data, nn.CrossEntropyLoss(), lambda params: torch.optim.SGD(params, lr=0.1), 1)


def test_train_moves_the_model_and_every_batch_to_the_device():
    pytest.importorskip("torch")
    snippet = (ROOT / "targets" / "pytorch" / "snippets" / "train.py").read_text(encoding="utf-8")
    # every batch reached the meta model; the once-per-epoch read of the loss is where meta stops
    with pytest.raises(RuntimeError, match="cannot be called on meta tensors"):
        _train_on_meta(snippet)
    planted = snippet.replace("X, y = X.to(device), y.to(device)", "pass")  # planted bug: batches left on the CPU
    assert planted != snippet
    with pytest.raises(RuntimeError, match="expected device"):
        _train_on_meta(planted)


@pytest.mark.parametrize("target,name", [("pytorch", "DEV"), ("mxnet", "CTX")])
def test_the_harness_picks_the_device_with_the_notebooks_helper(target, name):
    """One definition of the device: the harness's setup runs the try_gpu() snippet the notebooks define."""
    backend = get_backend(target)
    helper = (ROOT / "targets" / target / "snippets" / "try_gpu.py").read_text(encoding="utf-8")
    assert helper in backend.harness.setup and f"{name} = try_gpu() if DEVICE == 'gpu'" in backend.harness.setup
