"""Chapters that once compiled cleanly and then crashed or printed wrong values on some target (issue 10).

Each case is compiled for every target and run in that target's framework environment; every target
must print the same lines. Cases that must be rejected check the compile error and its location.
"""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from d2lc.backend import get_backend, target_names
from d2lc.build import build
from d2lc.envs import framework_available, python_for
from helpers import chapter


@pytest.fixture(scope="module", autouse=True)
def _close_runners():
    yield
    from nbrunner import close_all
    close_all()


def notebook_code(text: str) -> str:
    cells = json.loads(text)["cells"]
    return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def run_everywhere(dsl: str, tmp_path: Path) -> dict[str, str]:
    """Compile `dsl` for every target and run each notebook; target -> what it printed. Fails on any error."""
    src = tmp_path / "case.md"
    src.write_text(chapter(dsl), encoding="utf-8")
    result = build([src], [get_backend(n) for n in target_names()], tmp_path / "out", jobs=1)
    assert not result.errors, result.errors
    from nbrunner import runner_for
    printed, failures = {}, []
    for path, text in sorted(result.outputs.items()):
        backend = get_backend(path.relative_to(tmp_path / "out").parts[0])
        python = python_for(backend)
        if python is None or not framework_available(str(python), backend.environment.packages):
            continue
        script = tmp_path / f"case_{backend.name}.py"
        script.write_text(notebook_code(text), encoding="utf-8")
        runner = runner_for(str(python))
        ok, error = runner.run(str(script), str(tmp_path), timeout=300)
        if not ok:
            failures.append(f"{backend.name}:\n{error}")
        printed[backend.name] = runner.last_stdout
    assert not failures, "\n".join(failures)
    if not printed:
        pytest.skip("no target's framework is installed")
    return printed


def agree(dsl: str, tmp_path: Path, expected: str) -> None:
    printed = run_everywhere(dsl, tmp_path)
    want = textwrap.dedent(expected).strip("\n") + "\n"
    wrong = {t: out for t, out in printed.items() if out != want}
    assert not wrong, f"expected every target to print\n{want}got: {wrong}"


def test_top_level_pooling_layer_keeps_nchw(tmp_path):
    agree("""
        X = arange(2.0 * 3 * 9 * 9).reshape(2, 3, 9, 9)
        pool = MaxPool2d(3, stride=2)
        Y = pool(X)
        print(Y.shape[0], Y.shape[1], Y.shape[2], Y.shape[3])
        print(float(Y[0, 1, 2, 3]), float(Y[1, 2, 3, 0]))
        avg = AvgPool2d(2)
        Z = avg(X)
        print(Z.shape[1], Z.shape[2], float(Z[1, 2, 3, 1]))
        flat = Flatten()
        print(float(flat(X)[1, 100]))
    """, tmp_path, """
        2 3 4 4
        143.0 479.0
        3 4 466.0
        343.0
    """)


def test_top_level_sequential_is_initialised_before_use(tmp_path):
    agree("""
        X = ones((2, 4))
        net = Sequential(Linear(8), ReLU(), Linear(1))
        Y = net(X)
        print(Y.shape[0], Y.shape[1])
        hidden = Sequential(Linear(3), ReLU())
        print(float(hidden(X).min()) >= 0.0)
    """, tmp_path, """
        2 1
        True
    """)


def test_member_layer_shared_inside_member_sequential(tmp_path):
    agree("""
        model Tied():
            shared = Linear(8)
            net = Sequential(Linear(8), ReLU(), shared, ReLU(), shared, ReLU(), Linear(1))
            def forward(X: f32[n, 4]):
                return net(X)

        net = Tied()
        Y = net(ones((2, 4)))
        print(Y.shape[0], Y.shape[1])
    """, tmp_path, """
        2 1
    """)


def test_conv_padding_from_a_hyperparameter_or_an_expression(tmp_path):
    agree("""
        model Net(padding: int = 1, kernel: int = 3):
            conv = Conv2d(4, kernel=kernel, padding=padding)
            conv2 = Conv2d(4, kernel=5, padding=kernel // 2 + 1)
            def forward(X: f32[n, 1, 8, 8]):
                return conv2(conv(X))

        net = Net()
        Y = net(ones((2, 1, 8, 8)))
        print(Y.shape[0], Y.shape[1], Y.shape[2], Y.shape[3])
    """, tmp_path, """
        2 4 8 8
    """)
