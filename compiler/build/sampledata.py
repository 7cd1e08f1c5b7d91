"""Small synthetic data files in the real formats (Fashion-MNIST idx, The Time Machine text), so the
generated loaders run without a network: the tests and `d2lc build --execute` use them when the
book's data folder lacks the real files, pointing the notebooks' data hub at that folder (`data_env`)."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


def data_env(folder: Path) -> dict[str, str]:
    """The environment under which a notebook's data hub (the emitted `download`) reads FOLDER and trusts
    the files in it: synthetic stand-ins do not have the published digests."""
    return {"D2LBOOK_DATA": str(folder.resolve()), "D2LBOOK_VERIFY": "0"}


def _gzip(path: Path):
    """A gzip writer whose header carries no time stamp: the same data gives the same bytes (and the same
    executed-notebook cache keys, which digest the data folder)."""
    return gzip.GzipFile(path, "wb", mtime=0)


def write_idx_images(path: Path, images: np.ndarray) -> None:
    n, rows, cols = images.shape
    with _gzip(path) as f:
        f.write(struct.pack(">IIII", 2051, n, rows, cols))
        f.write(images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    with _gzip(path) as f:
        f.write(struct.pack(">II", 2049, len(labels)))
        f.write(labels.astype(np.uint8).tobytes())


def write_fashion_mnist(root: Path, n_train: int = 96, n_test: int = 48, seed: int = 0) -> Path:
    """ROOT/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz with learnable synthetic classes."""
    rng = np.random.default_rng(seed)
    folder = root / "fashion-mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for kind, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = rng.integers(0, 60, (n, 28, 28))
        for i, label in enumerate(labels):  # a bright band whose row encodes the class
            images[i, 2 * label + 4: 2 * label + 6, 4:24] = 230
        write_idx_images(folder / f"{kind}-images-idx3-ubyte.gz", images)
        write_idx_labels(folder / f"{kind}-labels-idx1-ubyte.gz", labels)
    return folder


def write_time_machine(root: Path, words: int = 3000, seed: int = 0) -> Path:
    """ROOT/timemachine.txt: text of random words (the loaders keep letters and spaces only)."""
    rng = np.random.default_rng(seed)
    vocab = ["the", "time", "machine", "traveller", "said", "we", "it", "was", "of", "and", "a", "in", "future"]
    text = " ".join(rng.choice(vocab, size=words)).capitalize() + ".\n"
    root.mkdir(parents=True, exist_ok=True)
    (root / "timemachine.txt").write_text(text, encoding="utf-8")
    return root / "timemachine.txt"


def write_sample_data(root: Path) -> list[str]:
    """Write whichever sample data sets ROOT lacks; returns the names of those written."""
    written = []
    if not (root / "fashion-mnist").is_dir():
        write_fashion_mnist(root)
        written.append("fashion-mnist")
    if not (root / "timemachine.txt").is_file():
        write_time_machine(root)
        written.append("timemachine.txt")
    return written
