def fashion_mnist(batch_size=64, root="../data"):
    """Fashion-MNIST from its IDX files in ROOT/fashion-mnist: images [n, 1, 28, 28] in [0, 1], int64 labels."""
    def read(kind):
        folder = pathlib.Path(root) / "fashion-mnist"
        with gzip.open(folder / f"{kind}-images-idx3-ubyte.gz") as f:
            images = numpy.frombuffer(f.read(), numpy.uint8, offset=16)
        with gzip.open(folder / f"{kind}-labels-idx1-ubyte.gz") as f:
            labels = numpy.frombuffer(f.read(), numpy.uint8, offset=8)
        X = np.array(images.reshape(-1, 1, 28, 28), dtype=np.float32) / 255
        return gluon.data.ArrayDataset(X, np.array(labels, dtype=np.int64))
    return (gluon.data.DataLoader(read("train"), batch_size, shuffle=True),
            gluon.data.DataLoader(read("t10k"), batch_size))
