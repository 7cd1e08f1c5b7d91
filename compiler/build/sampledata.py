"""Small synthetic data files in the real formats (Fashion-MNIST idx, The Time Machine text, the English-French
pairs, the Kaggle house-price CSV files), so the
generated loaders run without a network: the tests and `d2lc build --execute` use them when the
book's data folder lacks the real files, pointing the notebooks' data hub at that folder (`data_env`)."""
from __future__ import annotations

import gzip
import struct
import zipfile
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


# A tiny word-for-word "translation" for the English-French stand-in: the pairs are learnable by a small model
FRA_ENG_WORDS = {"i": "je", "you": "tu", "we": "nous", "see": "vois", "like": "aime", "want": "veux", "the": "le",
                 "a": "un", "cat": "chat", "dog": "chien", "house": "maison", "car": "voiture", "red": "rouge",
                 "big": "grand", "small": "petit", "go": "va", "run": "cours", "stop": "arrête"}


def write_fra_eng(root: Path, pairs: int = 800, seed: int = 0) -> Path:
    """ROOT/fra-eng.zip holding fra-eng/fra.txt as the data hub's archive does: one tab-separated English-French
    pair a line, capitalised and punctuated like the real file (a narrow no-break space before `!` and `?` in the
    French, a no-break space here and there), the French a word-for-word image of the English."""
    rng = np.random.default_rng(seed)
    subjects, verbs = ["i", "you", "we"], ["see", "like", "want"]
    objects = ["cat", "dog", "house", "car"]
    lines = []
    for k in range(pairs):
        words = [str(rng.choice(["go", "run", "stop"]))] if k % 5 == 0 else \
            [str(rng.choice(subjects)), str(rng.choice(verbs)), str(rng.choice(["the", "a"]))] + \
            ([str(rng.choice(["red", "big", "small"]))] if rng.random() < 0.4 else []) + [str(rng.choice(objects))]
        mark = str(rng.choice([".", "!", "?"]))
        english = " ".join(words).capitalize() + mark
        french = " ".join(FRA_ENG_WORDS[w] for w in words).capitalize()
        french += ("\u202f" if mark in "!?" else "") + mark if k % 7 else "\xa0" + mark
        lines.append(f"{english}\t{french}")
    root.mkdir(parents=True, exist_ok=True)
    path = root / "fra-eng.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:  # a fixed time stamp: the same bytes every time
        archive.writestr(zipfile.ZipInfo("fra-eng/fra.txt", date_time=(1980, 1, 1, 0, 0, 0)),
                         "\n".join(lines) + "\n", compress_type=zipfile.ZIP_DEFLATED)
    return path


# The Kaggle house-price files' columns in their published order (between `Id` and `SalePrice`): N numeric, C text
# categories (both may be missing, NA, as in the real files)
HOUSE_COLUMNS = (
    "MSSubClass:N MSZoning:C LotFrontage:N LotArea:N Street:C Alley:C LotShape:C LandContour:C Utilities:C LotConfig:C "
    "LandSlope:C Neighborhood:C Condition1:C Condition2:C BldgType:C HouseStyle:C OverallQual:N OverallCond:N YearBuilt:N "
    "YearRemodAdd:N RoofStyle:C RoofMatl:C Exterior1st:C Exterior2nd:C MasVnrType:C MasVnrArea:N ExterQual:C ExterCond:C "
    "Foundation:C BsmtQual:C BsmtCond:C BsmtExposure:C BsmtFinType1:C BsmtFinSF1:N BsmtFinType2:C BsmtFinSF2:N BsmtUnfSF:N "
    "TotalBsmtSF:N Heating:C HeatingQC:C CentralAir:C Electrical:C 1stFlrSF:N 2ndFlrSF:N LowQualFinSF:N GrLivArea:N "
    "BsmtFullBath:N BsmtHalfBath:N FullBath:N HalfBath:N BedroomAbvGr:N KitchenAbvGr:N KitchenQual:C TotRmsAbvGrd:N "
    "Functional:C Fireplaces:N FireplaceQu:C GarageType:C GarageYrBlt:N GarageFinish:C GarageCars:N GarageArea:N "
    "GarageQual:C GarageCond:C PavedDrive:C WoodDeckSF:N OpenPorchSF:N EnclosedPorch:N 3SsnPorch:N ScreenPorch:N "
    "PoolArea:N PoolQC:C Fence:C MiscFeature:C MiscVal:N MoSold:N YrSold:N SaleType:C SaleCondition:C").split()


def write_kaggle_house(root: Path, n_train: int = 192, n_test: int = 96, seed: int = 0) -> list[Path]:
    """ROOT/kaggle_house_pred_{train,test}.csv: the real files' 81 and 80 columns (Id, 79 features, SalePrice in the
    training file only), synthetic values with some missing, and a price that grows with the living area and quality."""
    rng = np.random.default_rng(seed)
    paths = []
    for kind, n, first in (("train", n_train, 1), ("test", n_test, n_train + 1)):
        area = rng.uniform(600, 3000, n)
        quality = rng.integers(1, 11, n)
        columns: dict[str, list[str]] = {"Id": [str(i) for i in range(first, first + n)]}
        for spec in HOUSE_COLUMNS:
            name, code = spec.split(":")
            if name == "GrLivArea":
                values = [f"{a:.0f}" for a in area]
            elif name == "OverallQual":
                values = [str(q) for q in quality]
            elif code == "N":
                values = [str(v) for v in rng.integers(0, 2000, n)]
            else:
                values = [name[:2] + "ABC"[v] for v in rng.integers(0, 3, n)]
            missing = rng.random(n) < 0.05
            columns[name] = ["NA" if m else v for v, m in zip(values, missing)]
        if kind == "train":
            price = 30000 + 60 * area + 15000 * quality + rng.normal(0, 10000, n)
            columns["SalePrice"] = [f"{p:.0f}" for p in np.maximum(price, 20000)]
        rows = [",".join(columns)] + [",".join(col[i] for col in columns.values()) for i in range(n)]
        path = root / f"kaggle_house_pred_{kind}.csv"
        root.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(rows) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def write_sample_data(root: Path) -> list[str]:
    """Write whichever sample data sets ROOT lacks; returns the names of those written."""
    written = []
    if not (root / "fashion-mnist").is_dir():
        write_fashion_mnist(root)
        written.append("fashion-mnist")
    if not (root / "timemachine.txt").is_file():
        write_time_machine(root)
        written.append("timemachine.txt")
    if not (root / "fra-eng.zip").is_file():
        write_fra_eng(root)
        written.append("fra-eng.zip")
    if not (root / "kaggle_house_pred_train.csv").is_file() or not (root / "kaggle_house_pred_test.csv").is_file():
        write_kaggle_house(root)
        written.append("kaggle_house_pred")
    return written
