"""The notebook's install cell (book.toml [versions]), TensorFlow's environment lines, and the
machine-made traits of issue 13 part 6 that emission no longer has."""
from __future__ import annotations

import json
from pathlib import Path

from helpers import emit

from d2lc.build.compile import build
from d2lc.core.cache import NotebookCache

CHAPTER = "# Ch\n\n```d2l\nx = ones((2, 3))\nprint(x)\n```\n"


def _book(root: Path, versions: str) -> Path:
    (root / "sources" / "ch").mkdir(parents=True)
    (root / "sources" / "ch" / "a.md").write_text(CHAPTER)
    (root / "book.toml").write_text(f'[book]\nsources = "sources"\n\n[versions]\n{versions}\n')
    return root


def _cells(result, target: str) -> tuple[list[dict], dict]:
    (text,) = [t for p, t in result.outputs.items() if p.parts[-3] == target]
    nb = json.loads(text)
    return [c for c in nb["cells"] if c["cell_type"] == "code"], nb["metadata"]["d2lc"]


def test_the_first_code_cell_installs_book_toml_versions_and_metadata_records_them(tmp_path):
    root = _book(tmp_path, 'mxnet = "mxnet==1.9.1 numpy==1.23.5"\njax = "jax==0.10.2 flax==0.12.8 optax==0.2.8"')
    result = build([root / "sources"], ["mxnet", "jax", "pytorch"], tmp_path / "out")
    cells, meta = _cells(result, "mxnet")
    assert "".join(cells[0]["source"]).endswith(
        'if importlib.util.find_spec("mxnet") is None:\n    %pip install mxnet==1.9.1 numpy==1.23.5')
    assert meta["versions"] == {"mxnet": "1.9.1", "numpy": "1.23.5"}
    cells, meta = _cells(result, "jax")
    assert 'for name in ("jax", "flax", "optax")' in "".join(cells[0]["source"])
    cells, meta = _cells(result, "pytorch")  # no [versions] line for it: no install cell, nothing recorded
    assert "pip" not in "".join(cells[0]["source"]) and "versions" not in meta


def test_a_chapter_compiled_alone_gets_the_same_notebook(tmp_path):
    root = _book(tmp_path, 'paddle = "paddlepaddle==3.3.1"')
    whole = build([root / "sources"], ["paddle"], tmp_path / "out").outputs
    alone = build([root / "sources" / "ch" / "a.md"], ["paddle"], tmp_path / "out").outputs
    assert list(whole.values()) == list(alone.values()) and "paddlepaddle==3.3.1" in next(iter(alone.values()))


def test_changed_versions_miss_the_compile_cache(tmp_path):
    """Planted bug caught: leaving the requirements out of notebook_key serves the old pins."""
    root = _book(tmp_path, 'paddle = "paddlepaddle==3.3.1"')
    cache = NotebookCache(tmp_path / "cache")
    build([root / "sources"], ["paddle"], tmp_path / "out", cache=cache)
    (root / "book.toml").write_text('[book]\nsources = "sources"\n\n[versions]\npaddle = "paddlepaddle==3.4.0"\n')
    again = build([root / "sources"], ["paddle"], tmp_path / "out", cache=cache)
    assert again.from_cache == 0 and "paddlepaddle==3.4.0" in next(iter(again.outputs.values()))


def test_tensorflow_sets_its_environment_before_the_import(tmp_path):
    root = _book(tmp_path, 'tensorflow = "tensorflow-cpu==2.21.0"')
    cells, _ = _cells(build([root / "sources"], ["tensorflow"], tmp_path / "out"), "tensorflow")
    setup = "".join(cells[1]["source"]).splitlines()
    at = setup.index("import tensorflow as tf")
    assert setup[0] == "import os"
    assert setup[at - 2].startswith('os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"')
    assert setup[at - 1].startswith('os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"')


def test_jax_objectives_are_named_after_what_they_compute_and_defined_once():
    code = emit("""
        x = arange(4.0)
        squares = x * x
        print(grad(squares.sum(), x))
        v = ones((4,))
        print(grad((v * squares).sum(), x))
        print(grad(squares.sum(), x) == 2 * x)
    """, "jax")
    assert "compute_value" not in code
    assert code.count("def sum_of_squares(x):") == 1 and code.count("jax.grad(sum_of_squares)(x)") == 2
    assert "def sum_of_v_times_squares(x):" in code


def test_an_integer_arange_cast_to_float_is_made_in_float():
    code = emit("n = 5\nangles = arange(n).reshape(-1, 1) / 10000 ** (arange(0, 8, 2) / 8)", "tensorflow")
    assert "tf.cast" not in code and "tf.reshape(tf.range(n, dtype=tf.float32), (-1, 1))" in code
    assert "tf.range(0, 8, 2, dtype=tf.float32)" in code


MLP = """
model MLP():
    net = Sequential(Flatten(), Linear(8), ReLU(), BatchNorm1d(), Linear(2))
    def forward(X: f32[b, 1, 4, 4]):
        return net(X)

model Head():
    out = Linear(3)
    def forward(X: f32[b, t, 4]):
        return out(X)
"""


def test_gluon_dense_says_flatten_false_only_for_inputs_above_rank_2_and_batchnorm_no_defaults():
    code = emit(MLP, "mxnet")
    assert "nn.Dense(8, weight" in code and "nn.Dense(2, weight" in code and "nn.BatchNorm()," in code
    assert "nn.Dense(3, flatten=False, weight" in code  # rank 3: gluon would flatten it


def test_the_site_still_finds_every_code_cell_after_the_install_cell(tmp_path):
    """Planted bug caught: counting the install cell among the positions the cell ids were made with."""
    from d2lc.build.site.pages import _match_cells
    from d2lc.front.chapter import split_chapter
    root = _book(tmp_path, 'mxnet = "mxnet==1.9.1"')
    nb = json.loads(next(iter(build([root / "sources"], ["mxnet"], tmp_path / "out").outputs.values())))
    raw, _, _ = split_chapter(CHAPTER, "sources/ch/a.md", {"mxnet"})
    by_index, setup = _match_cells(nb, "sources/ch/a.md", raw)
    assert setup is not None and "npx.set_np()" in "".join(setup["source"])
    assert [("".join(c["source"])) for c in by_index.values()] == ["x = np.ones((2, 3))\nprint(x)"]
