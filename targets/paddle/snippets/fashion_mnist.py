def fashion_mnist(batch_size=64, root=None, resize=None):
    """Fashion-MNIST (downloaded once, see `download`): images [n, 1, 28, 28] in [0, 1] (each batch resized
    to RESIZE, a size or (height, width), if given), int64 labels."""
    def read(kind):
        with gzip.open(download(f"fashion-mnist/{kind}-images-idx3-ubyte.gz", root)) as f:
            images = numpy.frombuffer(f.read(), numpy.uint8, offset=16)
        with gzip.open(download(f"fashion-mnist/{kind}-labels-idx1-ubyte.gz", root)) as f:
            labels = numpy.frombuffer(f.read(), numpy.uint8, offset=8)
        X = paddle.to_tensor(images.reshape(-1, 1, 28, 28), dtype=paddle.float32) / 255
        return paddle.io.TensorDataset([X, paddle.to_tensor(labels, dtype=paddle.int64)])
    def resized(batch):
        X, y = (paddle.stack(column) for column in zip(*batch))
        return nn.functional.interpolate(X, size=(resize, resize) if isinstance(resize, int) else resize, mode="bilinear"), y
    collate = resized if resize is not None else None
    return (paddle.io.DataLoader(read("train"), batch_size=batch_size, shuffle=True, collate_fn=collate),
            paddle.io.DataLoader(read("t10k"), batch_size=batch_size, collate_fn=collate))
