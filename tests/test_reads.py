"""Reading data sets by hand (docs/dsl.md, "Reading data sets"): one minibatch of a part (`X, y =
next(iter(data.train))`), a loop that only reads a part's batches, `time()`, `text_labels(y)` and `show_images` with
run-time titles. Each compile-time check rejects what it must; channels-last targets hand the chapter NCHW batches;
the clock and the batches are compared by dtype and shape only; and every target runs the reads to the same shapes
and names."""
from __future__ import annotations

import pytest

from d2lc.build.checked import compile_chapter
from d2lc.harness.determinism import analyse
from fakedata import write_fashion_mnist
from helpers import chapter, emit, notebook_code, run_on_every_target
from test_errors import rendered

DATA = "data = fashion_mnist(batch_size=16)\n"
TABLE = "data = load_array(arange(8.0).reshape(4, 2), zeros((4, 1)), 2, shuffle=False)\n"


def _error(src: str) -> str:
    return rendered(chapter(src))


@pytest.mark.parametrize("src, where, message", [
    (DATA + "batch = next(iter(data.train))\n", "ch.md:5:9",
     "a minibatch is read by unpacking it into its examples and labels"),
    ("X = ones((2, 3))\na, b = next(iter(X))\n", "ch.md:5:8", "`next` reads one minibatch of a data set's part"),
    (DATA + "X, y = next(data.train)\n", "ch.md:5:8", "`next` reads one minibatch of a data set's part"),
    ("t = time(3)\n", "ch.md:4:5", "`time()` takes no arguments"),
    ("names = text_labels(ones((3,)))\n", "ch.md:4:21", "`text_labels` needs a vector of int class indices"),
    ("names = text_labels(tensor([[1, 2]]))\n", "ch.md:4:21", "`text_labels` needs a vector of int class indices"),
    (DATA + "for X in data.val:\n    n = 1\n", "ch.md:5:1", "a loop over a data set's batches unpacks each batch"),
    ("model M():\n    out = Linear(1)\n    def forward(X: f32[n, 2]):\n        return out(X)\nnet = M()\n" + TABLE
     + "for X, y in data.val:\n    Y = net(X)\n", "ch.md:11:9", "a loop over a data set's batches that does not train"),
    ("model M():\n    out = Linear(1)\n    def forward(X: f32[n, 2]):\n        return out(X)\nnet = M()\n" + TABLE
     + "for X, y in data.val:\n    train(net, data, loss=squared_loss, optimizer=SGD(lr=0.1), epochs=1)\n", "ch.md:11:5",
     "a loop over a data set's batches that does not train"),
])
def test_each_read_check_rejects_what_it_must(src, where, message):
    got = _error(src)
    assert f"{where}: error: {message}" in got, got


def test_reads_that_are_fine_compile():
    compile_chapter(chapter(DATA + "X, y = next(iter(data.train))\nXv, yv = next(iter(data.val))\ntic = time()\n"
                            "n = 0\nfor Xb, yb in data.train:\n    n += Xb.shape[0]\nprint(n, time() - tic)\n"
                            "names = text_labels(yv)\nshow_images(Xv[:4], 1, 4, titles=text_labels(yv[:4]))\n"
                            "show_images(Xv[:2], 1, 2, titles=names[:2])\n"), "t.md", {"pytorch"})


READS = DATA + "X, y = next(iter(data.train))\nfor Xb, yb in data.val:\n    n = 1\nprint(X.shape, Xb.shape)\n"


def test_channels_last_targets_transpose_the_batches_they_read():
    torch = emit(READS, "pytorch")
    assert "X, y = next(iter(data[0]))" in torch and "for Xb, yb in data[1]:" in torch and "transpose" not in torch
    tf = emit(READS, "tensorflow")
    assert "X, y = next(iter(data[0]))\nX = tf.transpose(X, perm=(0, 3, 1, 2))" in tf, tf
    assert "for Xb, yb in data[1]:\n    Xb = tf.transpose(Xb, perm=(0, 3, 1, 2))" in tf, tf
    jax = emit(READS, "jax")
    assert "X, y = next(iter(data[0]()))\nX = X.transpose((0, 3, 1, 2))" in jax, jax
    assert "for Xb, yb in data[1]():\n    Xb = Xb.transpose((0, 3, 1, 2))" in jax, jax
    rows = emit(TABLE + "X, y = next(iter(data.train))\n", "tensorflow")  # [batch, features]: nothing to transpose
    assert "transpose" not in rows


def test_the_clock_is_imported_only_where_it_is_called(tmp_path):
    from d2lc.build.compile import build
    from d2lc.emit.backend import get_backend
    for name, dsl in (("clock", "tic = time()\nprint(time() - tic)\n"), ("own", "time = arange(3.0)\nprint(time)\n")):
        (tmp_path / f"{name}.md").write_text(chapter(dsl), encoding="utf-8")
    result = build([tmp_path / "clock.md", tmp_path / "own.md"], [get_backend("pytorch")], tmp_path / "out", jobs=1)
    code = {p.stem: notebook_code(t) for p, t in result.outputs.items()}
    assert "import time\n" in code["clock"] and "time.time()" in code["clock"]
    assert "import time" not in code["own"]  # a chapter's own name `time` is no module


def test_the_clock_and_the_batches_are_compared_by_dtype_and_shape_only():
    src = chapter("a = arange(3.0)\ntic = time()\nelapsed = time() - tic\n" + TABLE
                  + "X, y = next(iter(data.val))\nfor Xb, yb in data.val:\n    s = Xb.sum()\n")
    marks = {b.name: b.deterministic for bs in analyse(compile_chapter(src, "t.md", {"pytorch"})).bindings.values()
             for b in bs}
    assert marks["a"]
    assert not marks["tic"] and not marks["elapsed"]
    assert not marks["X"] and not marks["y"] and not marks["s"]


def test_every_target_reads_the_same_shapes_and_names(tmp_path):
    root = tmp_path / "data"
    write_fashion_mnist(root)  # 96 training and 48 test images in the real files' format
    data = f'data = fashion_mnist(batch_size=16, root="{root.as_posix()}")\n'
    runs = run_on_every_target(data + "X, y = next(iter(data.val))\nprint(X.shape[0], X.shape[1], X.shape[2], X.shape[3])\n"
                               "for Xb, yb in data.val:\n    last = Xb.shape[1]\nprint(last)\n"
                               "print(text_labels(tensor([0, 9, 5])))\ntic = time()\nprint(time() - tic >= 0.0)\n",
                               tmp_path)
    for target, run in runs.items():
        assert not run.error, (target, run.error)
        lines = run.stdout.strip().splitlines()
        assert lines[-4:] == ["16 1 28 28", "1", "['t-shirt', 'ankle boot', 'sandal']", "True"], (target, run.stdout)
