def fashion_mnist(batch_size=64, root=None, resize=None, seed=0):
    """Fashion-MNIST (downloaded once, see `download`): images [n, 28, 28, 1] (channels last) in [0, 1],
    each batch resized to RESIZE (a size or (height, width)) if given."""
    def read(kind):
        with gzip.open(download(f"fashion-mnist/{kind}-images-idx3-ubyte.gz", root)) as f:
            images = numpy.frombuffer(f.read(), numpy.uint8, offset=16)
        with gzip.open(download(f"fashion-mnist/{kind}-labels-idx1-ubyte.gz", root)) as f:
            labels = numpy.frombuffer(f.read(), numpy.uint8, offset=8)
        return images.reshape(-1, 28, 28, 1).astype(numpy.float32) / 255, labels.astype(numpy.int32)
    def resized(batches):
        size = (resize, resize) if isinstance(resize, int) else resize
        def resized_batches():
            for X, y in batches():
                yield jax.image.resize(X, (len(X), *size, 1), "linear"), y
        return resized_batches if resize is not None else batches
    return (resized(minibatches(*read("train"), batch_size, shuffle_seed=seed)),
            resized(minibatches(*read("t10k"), batch_size)))
