"""Issue 13's done-when check: a generated notebook of each target, copied alone into an empty folder and home, with
only its framework installed (its environment's packages seen through a view that leaves the book's library out),
runs top to bottom: its install cell fetches the library wheel from a local HTTP server on 127.0.0.1, and its data
hub downloads Fashion-MNIST from the same server. No request reaches the internet (proxies point at a closed port).

The install cell is run as Jupyter reads it (IPython's transformer turns `%pip install {wheel}` into a
`run_line_magic` call); a stand-in `get_ipython()` expands `{wheel}` and runs `python -m pip install` with
--no-index, as `%pip` runs pip with the kernel's own python. The view is a fresh virtual environment whose one .pth
adds a folder of links to every entry of the target environment's site-packages except the library itself.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from d2lc.build.book import load
from d2lc.build.envs import FRAMEWORK_ENV, framework_available, python_for
from d2lc.build.library import build_library
from d2lc.build.sampledata import write_fashion_mnist
from d2lc.emit.backend import get_backend
from test_datahub import Server

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "chapter_linear-classification/softmax-regression-concise.ipynb"  # imports fashion_mnist and train
TARGETS = ("pytorch", "tensorflow", "jax", "mxnet", "paddle")
SHIM = '''import subprocess as _subprocess, sys as _sys


class _Shell:  # what `%pip install {wheel}` needs of IPython: {name} expanded from the notebook's names, then pip
    def run_line_magic(self, magic, line):
        assert magic == "pip", magic
        args = line.format(**_sys._getframe(1).f_globals).split()
        _subprocess.check_call([_sys.executable, "-m", "pip", *args, "--no-index", "-q"])


def get_ipython():
    return _Shell()
'''


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """The server: the library wheel the build makes, and small Fashion-MNIST files in the real format."""
    book = load(ROOT)
    library = build_library(book, [get_backend(t) for t in TARGETS])
    data = tmp_path_factory.mktemp("data")
    write_fashion_mnist(data)
    files = {f"/files/{p.relative_to(data).as_posix()}": p.read_bytes() for p in data.rglob("*.gz")}
    files[f"/wheels/{library.wheel_name}"] = library.wheel
    server = Server(files)
    yield server, library.wheel_name
    server.close()


def view_env(python: str, tmp: Path) -> Path:
    """A virtual environment that sees `python`'s site-packages except the book's library: its python."""
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    view = tmp / "view"
    view.mkdir()
    for entry in sorted(Path(site).iterdir()):
        if not entry.name.startswith("d2lbook") and entry.suffix != ".pth":  # no library, no editable d2lc
            (view / entry.name).symlink_to(entry)
    subprocess.run([python, "-m", "venv", "--without-pip", str(tmp / "venv")], check=True)
    exe = tmp / "venv" / "bin" / "python"
    own = subprocess.run([str(exe), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    Path(own, "view.pth").write_text(f"import site; site.addsitedir({str(view)!r})\n")
    return exe


def notebook_script(text: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager  # the install cell's `%pip`, as Jupyter reads it
    cells = ["".join(c["source"]) for c in json.loads(text)["cells"] if c["cell_type"] == "code"]
    return SHIM + "\n\n" + "\n\n".join(TransformerManager().transform_cell(c) for c in cells)


def closed_proxy() -> str:
    s = Server({})
    url = s.url
    s.close()
    return url


@pytest.mark.parametrize("target", TARGETS)
def test_a_notebook_alone_installs_the_library_downloads_its_data_and_runs(target, published, tmp_path):
    server, wheel = published
    backend = get_backend(target)
    python = python_for(backend)
    if python is None or not framework_available(str(python), backend.environment.packages):
        pytest.skip(f"{target}'s environment is not installed")
    exe = view_env(str(python), tmp_path)
    work = tmp_path / "alone"
    work.mkdir()
    (work / "notebook.py").write_text(notebook_script((ROOT / "generated" / target / NOTEBOOK).read_text()))
    proxy = closed_proxy()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("D2LBOOK_", "PYTHON", "PIP_")) and "proxy" not in k.lower()}
    env.update(FRAMEWORK_ENV, HOME=str(work), MPLBACKEND="Agg", http_proxy=proxy, https_proxy=proxy, no_proxy="127.0.0.1",
               D2LBOOK_WHEEL=f"{server.url}/wheels/{wheel}", D2LBOOK_DATA_URL=f"{server.url}/files", D2LBOOK_VERIFY="0",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    before = len(server.requests)
    run = subprocess.run([str(exe), "notebook.py"], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    asked = server.requests[before:]
    assert f"/wheels/{wheel}" in asked  # the install cell fetched the library: it was not there
    assert "/files/fashion-mnist/train-images-idx3-ubyte.gz" in asked  # the hub downloaded the data set
    assert (work / ".cache" / "d2lbook" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").is_file()
    assert "epoch 1:" in run.stdout


def test_a_notebook_alone_and_offline_stops_at_its_data_with_what_to_fetch(published, tmp_path):
    """The same PyTorch notebook with its library wheel served but no data mirror: every other connection goes to a
    proxy where nothing listens, so the hub cannot reach the published file and says which file to put where."""
    server, wheel = published
    backend = get_backend("pytorch")
    python = python_for(backend)
    if python is None or not framework_available(str(python), backend.environment.packages):
        pytest.skip("pytorch's environment is not installed")
    exe = view_env(str(python), tmp_path)
    work = tmp_path / "alone"
    work.mkdir()
    (work / "notebook.py").write_text(notebook_script((ROOT / "generated" / "pytorch" / NOTEBOOK).read_text()))
    proxy = closed_proxy()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("D2LBOOK_", "PYTHON", "PIP_")) and "proxy" not in k.lower()}
    env.update(FRAMEWORK_ENV, HOME=str(work), MPLBACKEND="Agg", http_proxy=proxy, https_proxy=proxy, no_proxy="127.0.0.1",
               D2LBOOK_WHEEL=f"{server.url}/wheels/{wheel}", PIP_DISABLE_PIP_VERSION_CHECK="1")
    run = subprocess.run([str(exe), "notebook.py"], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    file = work / ".cache" / "d2lbook" / "fashion-mnist" / "train-images-idx3-ubyte.gz"
    assert last.startswith("FileNotFoundError: could not download https://raw.githubusercontent.com/zalandoresearch/"), last
    assert f"put that file at {file}, or set D2LBOOK_DATA" in last, last
    assert "refused" in last, f"the connection did not go to the closed proxy: {last}"
