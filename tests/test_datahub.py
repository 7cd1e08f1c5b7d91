"""The data hub every notebook that reads a real data set carries (compiler/emit/snippets/download.py).

A local HTTP server on 127.0.0.1 (http.server in a thread) serves small files in the real formats, and the
hub's table is pointed at it: the tests check the download, the cache hit (no second request), a corrupt
copy downloaded again, a corrupt download refused, and the message when the server cannot be reached. No
test reaches the internet. The generated loaders (PyTorch's) are run on top of the hub the same way.
"""
from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import pathlib
import re
import threading
import urllib.request
from pathlib import Path

import pytest

from d2lc.build.sampledata import data_env, write_fashion_mnist, write_time_machine
from d2lc.core.layers import HUB_CSV
from d2lc.emit.assembly import shared_snippets

ROOT = Path(__file__).resolve().parents[1]

FILES = ("fashion-mnist/train-images-idx3-ubyte.gz", "fashion-mnist/train-labels-idx1-ubyte.gz",
         "fashion-mnist/t10k-images-idx3-ubyte.gz", "fashion-mnist/t10k-labels-idx1-ubyte.gz", "timemachine.txt")


class Server:
    """Serves `files` (URL path -> bytes) on 127.0.0.1 and counts the requests for each path."""

    def __init__(self, files: dict[str, bytes]):
        self.files, self.requests = files, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                body = outer.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict[str, bytes]:
    """Each hub file's bytes: small synthetic sets in the real formats."""
    folder = tmp_path_factory.mktemp("published")
    write_fashion_mnist(folder)
    write_time_machine(folder)
    return {name: (folder / name).read_bytes() for name in FILES}


@pytest.fixture
def server(published):
    s = Server({f"/files/{name}": data for name, data in published.items()})
    yield s
    s.close()


def hub(server_url: str, published: dict[str, bytes], *snippets: str) -> dict:
    """The hub's code (and the given loader snippets) run in a fresh namespace, its table pointed at the server."""
    ns = {"gzip": gzip, "hashlib": hashlib, "os": os, "pathlib": pathlib, "re": re, "urllib": urllib}
    exec(dict(shared_snippets())["download"], ns)
    for code in snippets:
        exec(code, ns)
    ns["DATA_HUB"] = {name: (f"{server_url}/files/{name}", "sha256:" + hashlib.sha256(data).hexdigest())
                      for name, data in published.items()}
    return ns


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv("D2LBOOK_VERIFY", raising=False)
    monkeypatch.setenv("D2LBOOK_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_missing_file_is_downloaded_verified_and_then_read_from_the_cache(server, published, cache, capsys):
    ns = hub(server.url, published)
    path = ns["download"]("fashion-mnist/train-labels-idx1-ubyte.gz")
    assert path == cache / "fashion-mnist" / "train-labels-idx1-ubyte.gz"
    assert path.read_bytes() == published["fashion-mnist/train-labels-idx1-ubyte.gz"]
    assert not list(cache.rglob("*.part")), "the partial file stays behind"
    assert "downloading" in capsys.readouterr().out  # progress
    assert server.requests == ["/files/fashion-mnist/train-labels-idx1-ubyte.gz"]
    assert ns["download"]("fashion-mnist/train-labels-idx1-ubyte.gz") == path
    assert len(server.requests) == 1, "a verified copy in the cache is fetched again"


def test_a_corrupt_copy_in_the_cache_is_downloaded_again(server, published, cache, capsys):
    ns = hub(server.url, published)
    (cache).mkdir(parents=True)
    (cache / "timemachine.txt").write_text("truncated")
    path = ns["download"]("timemachine.txt")
    assert path.read_bytes() == published["timemachine.txt"]
    assert "does not match" in capsys.readouterr().out
    assert server.requests == ["/files/timemachine.txt"]


def test_a_download_with_the_wrong_digest_is_an_error_and_leaves_nothing(server, published, cache):
    ns = hub(server.url, published)
    server.files["/files/timemachine.txt"] = b"a changed file"
    with pytest.raises(OSError, match="digest other than sha256:"):
        ns["download"]("timemachine.txt")
    assert not (cache / "timemachine.txt").exists() and not list(cache.rglob("*.part"))


def test_offline_the_error_says_which_file_to_put_where(published, cache):
    s = Server({})
    url = s.url
    s.close()  # nothing listens there any more: a refused connection, as offline
    ns = hub(url, published)
    with pytest.raises(FileNotFoundError) as info:
        ns["download"]("fashion-mnist/t10k-images-idx3-ubyte.gz")
    message = str(info.value)
    assert f"{url}/files/fashion-mnist/t10k-images-idx3-ubyte.gz" in message
    assert f"put that file at {cache / 'fashion-mnist' / 't10k-images-idx3-ubyte.gz'}" in message
    assert "D2LBOOK_DATA" in message


def test_the_folder_is_root_then_the_environment_then_the_home_cache(server, published, tmp_path, monkeypatch):
    ns = hub(server.url, published)
    monkeypatch.delenv("D2LBOOK_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert ns["download"]("timemachine.txt") == tmp_path / "home" / ".cache" / "d2lbook" / "timemachine.txt"
    monkeypatch.setenv("D2LBOOK_DATA", str(tmp_path / "env"))
    assert ns["download"]("timemachine.txt") == tmp_path / "env" / "timemachine.txt"
    assert ns["download"]("timemachine.txt", root=tmp_path / "root") == tmp_path / "root" / "timemachine.txt"
    assert len(server.requests) == 3


def test_verify_off_trusts_the_copy_found(server, published, cache, monkeypatch):
    """How the book's own execution reads its synthetic stand-ins (build/sampledata.data_env)."""
    ns = hub(server.url, published)
    cache.mkdir(parents=True)
    (cache / "timemachine.txt").write_text("a stand-in")
    for k, v in data_env(cache).items():
        monkeypatch.setenv(k, v)
    assert ns["download"]("timemachine.txt").read_text() == "a stand-in"
    assert server.requests == []


def test_the_generated_loaders_read_through_the_hub(server, published, cache):
    torch = pytest.importorskip("torch")
    snippets = ROOT / "targets" / "pytorch" / "snippets"
    ns = hub(server.url, published, *("import numpy\nimport torch\nfrom torch import nn\n" + (snippets / f).read_text()
                                      for f in ("fashion_mnist.py", "time_machine.py")))
    train, val = ns["fashion_mnist"](batch_size=8)
    X, y = next(iter(train))
    assert X.shape == (8, 1, 28, 28) and y.dtype == torch.int64
    assert len(val.dataset) == 48  # the served test set (sampledata's size), not a file found elsewhere
    train, _ = ns["time_machine"](batch_size=4, num_steps=5)
    X, Y = next(iter(train))
    assert X.shape == (4, 5) and bool((X[:, 1:] == Y[:, :-1]).all())
    assert sorted(server.requests) == sorted(f"/files/{name}" for name in FILES)


def test_every_loader_reads_only_files_the_hub_knows():
    hub_names = set(re.findall(r'^    "([^"]+)": \(', dict(shared_snippets())["download"], re.M))
    # the loaders' files, the CSV files `read_csv(download(...))` may name, and those the shared text helpers read
    shared = {n for _, code in shared_snippets() for n in re.findall(r'download\("([^"]+)"', code)}
    assert shared == {"timemachine.txt", "fra-eng.zip"}
    assert hub_names == set(FILES) | set(HUB_CSV) | shared
    for loader in sorted((ROOT / "targets").glob("*/snippets/*.py")):
        text = loader.read_text(encoding="utf-8")
        for name in re.findall(r'download\(f?"([^"]+)"', text):
            for kind in ("train", "t10k"):
                assert name.replace("{kind}", kind) in hub_names, f"{loader}: {name}"
        assert "../data" not in text, f"{loader} still reads ../data"


# A generated notebook alone, offline, stopping at its data with what to fetch: tests/test_notebook_alone.py.


def test_a_mirror_serves_the_files_verified_unless_verification_is_off(server, published, cache, monkeypatch):
    """$D2LBOOK_DATA_URL/NAME replaces the published address; the digest is still checked, unless D2LBOOK_VERIFY=0."""
    ns = hub("http://127.0.0.1:9/nowhere", published)  # the table's own addresses cannot be reached
    ns["DATA_HUB"]["timemachine.txt"] = (ns["DATA_HUB"]["timemachine.txt"][0], "sha256:" + "0" * 64)
    monkeypatch.setenv("D2LBOOK_DATA_URL", f"{server.url}/files/")
    with pytest.raises(OSError, match="digest other than"):
        ns["download"]("timemachine.txt")
    monkeypatch.setenv("D2LBOOK_VERIFY", "0")
    assert ns["download"]("timemachine.txt").read_bytes() == published["timemachine.txt"]
    assert server.requests == ["/files/timemachine.txt"] * 2
