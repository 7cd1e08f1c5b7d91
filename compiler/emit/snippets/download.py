FASHION_MNIST_URL = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"
DATA_HUB = {  # each data file the book reads: where it is published, and its published digest
    "fashion-mnist/train-images-idx3-ubyte.gz": (FASHION_MNIST_URL + "train-images-idx3-ubyte.gz",
                                                 "md5:8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    "fashion-mnist/train-labels-idx1-ubyte.gz": (FASHION_MNIST_URL + "train-labels-idx1-ubyte.gz",
                                                 "md5:25c81989df183df01b3e8a0aad5dffbe"),
    "fashion-mnist/t10k-images-idx3-ubyte.gz": (FASHION_MNIST_URL + "t10k-images-idx3-ubyte.gz",
                                                "md5:bef4ecab320f06d8554ea6380940ec79"),
    "fashion-mnist/t10k-labels-idx1-ubyte.gz": (FASHION_MNIST_URL + "t10k-labels-idx1-ubyte.gz",
                                                "md5:bb300cfdad3c16e7a12a480ee83cd310"),
    "timemachine.txt": ("https://d2l-data.s3-accelerate.amazonaws.com/timemachine.txt",
                        "sha1:090b5e7e70c295757f55df93cb0a180b9691891a"),
    "fra-eng.zip": ("https://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip",
                    "sha1:94646ad1522d915e7b0f9296181140edcf86a4f5"),
    "kaggle_house_pred_train.csv": ("https://d2l-data.s3-accelerate.amazonaws.com/kaggle_house_pred_train.csv",
                                    "sha1:585e9cc93e70b39160e7921475f9bcd7d31219ce"),
    "kaggle_house_pred_test.csv": ("https://d2l-data.s3-accelerate.amazonaws.com/kaggle_house_pred_test.csv",
                                   "sha1:fa19780a7b011d9b009e8bff8e99922a8ee2eb90"),
}


def has_digest(path, digest):
    """Whether the file's digest is DIGEST, written ALGORITHM:HEX (md5:..., sha1:..., sha256:...)."""
    algorithm, expected = digest.split(":")
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == expected


def download(name, root=None):
    """The local copy of data file NAME (a key of DATA_HUB) in ROOT, else $D2LBOOK_DATA, else ~/.cache/d2lbook:
    downloaded when missing or not matching its digest, from $D2LBOOK_DATA_URL/NAME if set (a mirror), else
    from where it is published ($D2LBOOK_VERIFY=0 trusts the copy found and, from a mirror, the copy fetched)."""
    folder = root or os.environ.get("D2LBOOK_DATA") or pathlib.Path.home() / ".cache" / "d2lbook"
    path, (url, digest) = pathlib.Path(folder) / name, DATA_HUB[name]
    mirror = os.environ.get("D2LBOOK_DATA_URL")
    url = f"{mirror.rstrip('/')}/{name}" if mirror else url
    if path.is_file():
        if os.environ.get("D2LBOOK_VERIFY") == "0" or has_digest(path, digest):
            return path
        print(f"{path} does not match {digest}: downloading it again")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as f:
            while chunk := response.read(1 << 16):
                f.write(chunk)
                print(f"\rdownloading {url}: {f.tell() >> 10} KB", end="")
        print()
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise FileNotFoundError(f"could not download {url} ({getattr(e, 'reason', e)}): "
                                f"put that file at {path}, or set D2LBOOK_DATA to a folder holding {name}") from None
    if not (mirror and os.environ.get("D2LBOOK_VERIFY") == "0") and not has_digest(partial, digest):
        partial.unlink()
        raise OSError(f"{url} arrived with a digest other than {digest} (a broken transfer or a changed file)")
    os.replace(partial, path)
    return path
