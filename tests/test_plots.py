"""Figures (`plot`, `heatmap`, `show_images`) and data sets made from tensors (`load_array`, `fashion_mnist(resize=...)`).

Each chapter is compiled for every target and run headless in that target's environment (matplotlib's Agg
backend, as the harness runs notebooks); a few lines appended to each script save every open figure as a PNG
and write what it draws (curves, image arrays, labels, scales) to JSON. The drawn values are compared with the
same values computed here in NumPy, so a target whose conversion to matplotlib is wrong (an image left
[channels, height, width], a curve of another tensor) fails. A planted bug shows the check catches one.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from d2lc.emit.backend import get_backend, target_names
from d2lc.build.compile import build
from d2lc.build.envs import framework_available, python_for
from helpers import chapter, emit, run_on_every_target



# Appended to each compiled script: every open figure to a PNG, and what its axes draw to figures.json.
DUMP = '''
import json as _json
from matplotlib import pyplot as _plt
import numpy as _np
_figures = []
for _n in _plt.get_fignums():
    _fig = _plt.figure(_n)
    _fig.savefig(f"figure_{len(_figures)}.png")
    _figures.append([{
        "lines": [[_np.asarray(_l.get_xdata(), float).tolist(), _np.asarray(_l.get_ydata(), float).tolist()] for _l in _ax.get_lines()],
        "images": [_np.asarray(_im.get_array(), float).tolist() for _im in _ax.get_images()],
        "title": _ax.get_title(), "xlabel": _ax.get_xlabel(), "ylabel": _ax.get_ylabel(),
        "xscale": _ax.get_xscale(), "yscale": _ax.get_yscale(),
        "legend": [_t.get_text() for _t in _ax.get_legend().get_texts()] if _ax.get_legend() else None,
        "suptitle": _fig._suptitle.get_text() if _fig._suptitle else None,
    } for _ax in _fig.axes])
open("figures.json", "w").write(_json.dumps(_figures))
'''


def draw_everywhere(dsl: str, tmp_path: Path) -> dict[str, list]:
    """Compile `dsl` for every target, run each notebook headless; target -> the figures it drew."""
    runs = run_on_every_target(dsl, tmp_path, epilogue=DUMP)
    failures = [f"{target}:\n{run.error}" for target, run in runs.items() if run.error]
    assert not failures, "\n".join(failures)
    drawn = {}
    for target, run in runs.items():
        figures = json.loads((run.work / "figures.json").read_text())
        assert all((run.work / f"figure_{i}.png").read_bytes()[:4] == b"\x89PNG" for i in range(len(figures))), target
        drawn[target] = figures
    return drawn


FIGURES = """
    x = arange(0.0, 3.0, 0.25)
    plot(x, [x * x, 2 * x - 1], legend=["f(x)", "tangent"], xlabel="x", ylabel="f(x)", xlim=(0, 3), figsize=(4, 3))
    curves = []
    for i in range(1, 3):
        curves.append((x * i).exp())
    plot(x, curves, yscale="log")
    pair = [x * x, 2 * x - 1]
    names = ["f(x)", "tangent"]
    plot(x, pair, legend=names, xlabel="x", ylabel="f(x)")
    W = softmax(arange(24.0).reshape(4, 6) / 10, axis=-1)
    heatmap(W, xlabel="keys", ylabel="queries", title="attention")
    heatmap(W.reshape(1, 2, 2, 6), cmap="Blues")
    imgs = arange(2.0 * 3 * 4 * 5).reshape(2, 3, 4, 5) / 120
    show_images(imgs, 1, 2, titles=["first", "second"])
    show_images(imgs[:, :1], 1, 3, scale=1.0)
    show_images(imgs[:, 0], 2, 2)
"""


def expected_figures():
    """What FIGURES draws, computed in NumPy: (curves of figure 0, curves of figure 1, the matrices, the images)."""
    x = np.arange(0.0, 3.0, 0.25)
    z = np.arange(24.0).reshape(4, 6) / 10
    W = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)
    imgs = np.arange(120.0).reshape(2, 3, 4, 5) / 120
    return [x * x, 2 * x - 1], [np.exp(x * i) for i in range(1, 3)], W, imgs


def check_figures(figures: list) -> None:
    """Fails unless the drawn figures are FIGURES' values, in matplotlib's layouts."""
    (f0, f1), curves, W, imgs = expected_figures()
    assert len(figures) == 8
    assert figures[2] == figures[0]  # the same curves and labels, from names holding lists
    del figures[2]
    line, log = figures[0][0], figures[1][0]
    for (xs, ys), want in zip(line["lines"], (f0, f1)):
        np.testing.assert_allclose(xs, np.arange(0.0, 3.0, 0.25))
        np.testing.assert_allclose(ys, want, rtol=1e-5)
    assert (line["xlabel"], line["ylabel"], line["legend"], line["yscale"]) == ("x", "f(x)", ["f(x)", "tangent"], "linear")
    assert log["yscale"] == "log" and len(log["lines"]) == 2
    for (_, ys), want in zip(log["lines"], curves):
        np.testing.assert_allclose(ys, want, rtol=1e-5)
    heat = figures[2][0]
    np.testing.assert_allclose(heat["images"][0], W, rtol=1e-5)
    assert (heat["xlabel"], heat["ylabel"], figures[2][0]["suptitle"]) == ("keys", "queries", "attention")
    grid = [ax for ax in figures[3] if ax["images"]]
    assert len(figures[3]) == 3 and len(grid) == 2  # two matrices and the colour bar
    np.testing.assert_allclose(grid[0]["images"][0], W.reshape(1, 2, 2, 6)[0, 0], rtol=1e-5)
    np.testing.assert_allclose(grid[1]["images"][0], W.reshape(1, 2, 2, 6)[0, 1], rtol=1e-5)
    colour = figures[4]
    assert [ax["title"] for ax in colour] == ["first", "second"]
    for ax, img in zip(colour, imgs):
        np.testing.assert_allclose(ax["images"][0], img.transpose(1, 2, 0), rtol=1e-6)  # height, width, channels
    grey = [ax for ax in figures[5] if ax["images"]]
    assert len(figures[5]) == 3 and len(grey) == 2
    for ax, img in zip(grey, imgs):
        np.testing.assert_allclose(ax["images"][0], img[0], rtol=1e-6)
    plain = [ax for ax in figures[6] if ax["images"]]
    assert len(figures[6]) == 4 and len(plain) == 2
    for ax, img in zip(plain, imgs):
        np.testing.assert_allclose(ax["images"][0], img[0], rtol=1e-6)


def test_figures_run_and_draw_the_values_on_every_target(tmp_path):
    drawn = draw_everywhere(FIGURES, tmp_path)
    for target, figures in drawn.items():
        try:
            check_figures(figures)
        except AssertionError as exc:
            raise AssertionError(f"{target} draws wrong figures: {exc}") from exc


SQUARE = """
    imgs = arange(2.0 * 3 * 4 * 3).reshape(2, 3, 4, 3) / 72
    show_images(imgs, 1, 2)
"""


def check_square(figures: list) -> None:
    """SQUARE's two images [3, 4, 3] drawn as matplotlib's [height 4, width 3, channels 3]."""
    imgs = np.arange(72.0).reshape(2, 3, 4, 3) / 72
    drawn = [ax["images"][0] for ax in figures[0]]
    assert len(drawn) == 2
    for got, img in zip(drawn, imgs):
        np.testing.assert_allclose(got, img.transpose(1, 2, 0), rtol=1e-6)


def test_a_planted_layout_bug_in_the_image_conversion_is_caught(tmp_path, monkeypatch):
    """The tempting mistake: take a channels-last target's *model* layout for the layout of the images a chapter
    holds. Outside models every target stores the DSL's [n, channels, height, width], so such a target hands
    matplotlib untransposed images: FIGURES' images then fail to draw, and SQUARE's (3 x 4 x 3, a valid RGB
    image either way) draw silently wrong, which the check must catch."""
    from d2lc.emit import plots
    monkeypatch.setattr(plots, "stored_layout", lambda em: em.backend.layouts.activations)
    if "tensorflow" not in target_names():
        pytest.skip("needs a channels-last target")
    with pytest.raises(AssertionError, match="Invalid shape"):
        draw_everywhere(FIGURES, tmp_path / "figures")
    drawn = draw_everywhere(SQUARE, tmp_path / "square")
    if "tensorflow" not in drawn:
        pytest.skip("TensorFlow is not installed")
    with pytest.raises(AssertionError):
        check_square(drawn["tensorflow"])
    check_square(drawn["pytorch"])  # a channels-first target is unaffected
    monkeypatch.undo()
    for target, figures in draw_everywhere(SQUARE, tmp_path / "fixed").items():
        check_square(figures)


@pytest.mark.parametrize("target, idiom", [("pytorch", "x.detach().numpy()"), ("tensorflow", "x.numpy()"),
                                           ("jax", "numpy.asarray(x)"), ("mxnet", "x.asnumpy()")])
def test_each_target_hands_matplotlib_numpy_arrays_in_its_idiom(target, idiom):
    code = emit("x = arange(3.0)\nplot(x, x * 2, xlabel=\"x\")", target)
    assert f"plot({idiom}, [" in code and 'xlabel="x")' in code
    assert code.count("def plot(") == 1 and "import" not in code.split("def plot(")[0]


def epoch_losses(printed: str) -> list[float]:
    """The training losses `train` logs, one per epoch ("epoch 3: train loss 0.1234, ...")."""
    return [float(line.split("train loss ")[1].split(",")[0]) for line in printed.splitlines() if line.startswith("epoch ")]


def test_load_array_feeds_train_on_every_target(tmp_path):
    from test_soundness import run_everywhere
    printed = run_everywhere("""
        seed(0)
        X = normal((96, 2))
        y = X @ tensor([[2.0], [-3.4]]) + 4.2
        model Regression(n_out: int = 1):
            layer = Linear(n_out)
            def forward(X: f32[n, 2]):
                return layer(X)
        net = Regression()
        train(net, load_array(X, y, 16), loss=squared_loss, optimizer=SGD(lr=0.1), epochs=4)
        held_out = load_array(X, y, batch_size=32, shuffle=False, num_val=32)
        again = Regression()
        train(again, held_out, loss=squared_loss, optimizer=SGD(lr=0.1), epochs=4)
        images = normal((48, 1, 6, 6))
        labels = (images.sum(axis=(1, 2, 3)) > 0).astype(int64)
        model Tiny(num_classes: int = 2):
            net = Sequential(Conv2d(4, kernel=3, padding=1), ReLU(), Flatten(), Linear(num_classes))
            def forward(X: f32[b, 1, 6, 6]):
                return net(X)
        tiny = Tiny()
        train(tiny, load_array(images, labels, 8, num_val=16), loss=cross_entropy, optimizer=Adam(lr=0.01), epochs=2)
    """, tmp_path)
    for target, out in printed.items():
        losses = epoch_losses(out)
        assert len(losses) == 10, f"{target} printed:\n{out}"
        assert losses[3] < losses[0] / 4 and losses[7] < losses[4] / 4, f"{target} did not fit the line:\n{out}"
        assert "val acc" in out.splitlines()[-1], f"{target}: no accuracy for integer labels:\n{out}"


def test_load_array_hands_images_to_models_in_their_layout():
    dsl = "images = zeros((8, 1, 6, 6))\nlabels = zeros((8,), dtype=int64)\ndata = load_array(images, labels, 4)"
    assert "load_array(images, labels, batch_size=4)" in emit(dsl, "pytorch")
    assert "load_array(tf.transpose(images, perm=(0, 2, 3, 1)), labels, batch_size=4)" in emit(dsl, "tensorflow")
    assert "load_array(images.transpose((0, 2, 3, 1)), labels, batch_size=4)" in emit(dsl, "jax")


def test_fashion_mnist_resizes_its_images_on_every_target(tmp_path):
    from d2lc.build.sampledata import write_fashion_mnist
    from test_soundness import run_everywhere
    write_fashion_mnist(tmp_path / "data")
    printed = run_everywhere("""
        model Wide(num_classes: int = 10):
            net = Sequential(Conv2d(2, kernel=3, stride=2), ReLU(), Flatten(), Linear(num_classes))
            def forward(X: f32[b, 1, 33, 41]):
                return net(X)
        net = Wide()
        train(net, fashion_mnist(batch_size=32, root="data", resize=(33, 41)), loss=cross_entropy,
              optimizer=Adam(lr=0.01), epochs=1)
        model Square(num_classes: int = 10):
            net = Sequential(Conv2d(2, kernel=3, stride=2), ReLU(), Flatten(), Linear(num_classes))
            def forward(X: f32[b, 1, 12, 12]):
                return net(X)
        small = Square()
        train(small, fashion_mnist(batch_size=32, root="data", resize=12), loss=cross_entropy, optimizer=Adam(lr=0.01),
              epochs=1)
    """, tmp_path)
    for target, out in printed.items():
        assert len(epoch_losses(out)) == 2, f"{target} printed:\n{out}"


@pytest.mark.parametrize("target", ["pytorch", "mxnet"])  # MXNet's environment has an older matplotlib (3.7)
def test_executed_notebooks_keep_each_figure_as_an_inline_png(target, tmp_path):
    """In a Jupyter kernel (as `d2lc build --execute` runs the book) figures use the inline backend: each one is a
    PNG output of its cell, and nothing waits for a window."""
    import nbformat
    from d2lc.build.execute import run_notebook, write_kernelspec
    backend = get_backend(target)
    python = python_for(backend)
    if python is None or not framework_available(str(python), backend.environment.packages):
        pytest.skip(f"{target} is not installed")
    src = tmp_path / "case.md"
    src.write_text(chapter("""
        x = arange(0.0, 1.0, 0.25)
        plot(x, [x, x * x], legend=["x", "x^2"])
        heatmap(softmax(arange(6.0).reshape(2, 3), axis=-1))
        show_images(arange(2.0 * 16).reshape(2, 1, 4, 4) / 32, 1, 2)
    """), encoding="utf-8")
    result = build([src], [backend], tmp_path / "out", jobs=1)
    assert not result.errors, result.errors
    (path, text), = result.outputs.items()
    kernels = write_kernelspec(tmp_path / "kernels", backend.environment.name, python)
    work = tmp_path / "work"
    work.mkdir()
    nb, failure = run_notebook(nbformat.reads(text, as_version=4), kernels, backend.environment.name, work, 120)
    assert failure is None, failure
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert len(figures) == 3
