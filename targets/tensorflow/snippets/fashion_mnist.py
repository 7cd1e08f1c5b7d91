def fashion_mnist(batch_size=64, root=None, resize=None):
    """Fashion-MNIST (downloaded once, see `download`): images [n, 28, 28, 1] (channels last) in [0, 1],
    each batch resized to RESIZE (a size or (height, width)) if given."""
    def read(kind):
        with gzip.open(download(f"fashion-mnist/{kind}-images-idx3-ubyte.gz", root)) as f:
            images = numpy.frombuffer(f.read(), numpy.uint8, offset=16)
        with gzip.open(download(f"fashion-mnist/{kind}-labels-idx1-ubyte.gz", root)) as f:
            labels = numpy.frombuffer(f.read(), numpy.uint8, offset=8)
        X = tf.constant(images.reshape(-1, 28, 28, 1), dtype=tf.float32) / 255
        return tf.data.Dataset.from_tensor_slices((X, tf.constant(labels, dtype=tf.int64)))
    def resized(data):
        size = (resize, resize) if isinstance(resize, int) else resize
        return data.map(lambda X, y: (tf.image.resize(X, size), y)) if resize is not None else data
    train = read("train")
    # prefetch: the next batches are made while the model trains on this one
    return (resized(train.shuffle(len(train)).batch(batch_size)).prefetch(tf.data.AUTOTUNE),
            resized(read("t10k").batch(batch_size)).prefetch(tf.data.AUTOTUNE))
