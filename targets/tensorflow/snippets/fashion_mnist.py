def fashion_mnist(batch_size=64, root="../data"):
    """Fashion-MNIST from its IDX files in ROOT/fashion-mnist: images [n, 28, 28, 1] (channels last) in [0, 1]."""
    def read(kind):
        folder = pathlib.Path(root) / "fashion-mnist"
        with gzip.open(folder / f"{kind}-images-idx3-ubyte.gz") as f:
            images = numpy.frombuffer(f.read(), numpy.uint8, offset=16)
        with gzip.open(folder / f"{kind}-labels-idx1-ubyte.gz") as f:
            labels = numpy.frombuffer(f.read(), numpy.uint8, offset=8)
        X = tf.constant(images.reshape(-1, 28, 28, 1), dtype=tf.float32) / 255
        return tf.data.Dataset.from_tensor_slices((X, tf.constant(labels, dtype=tf.int64)))
    train = read("train")
    return train.shuffle(len(train)).batch(batch_size), read("t10k").batch(batch_size)
