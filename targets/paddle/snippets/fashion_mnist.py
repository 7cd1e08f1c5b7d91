class FashionMNIST(paddle.io.Dataset):
    """Images [1, 28, 28] in [0, 1] and int64 labels, decoded once into NumPy arrays."""

    def __init__(self, images, labels):
        super().__init__()
        self.images = images.reshape(-1, 1, 28, 28).astype(numpy.float32) / 255
        self.labels = labels.astype(numpy.int64)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]

    def __len__(self):
        return len(self.labels)


def fashion_mnist(batch_size=64, root=None, resize=None):
    """Fashion-MNIST (downloaded once, see `download`): images [n, 1, 28, 28] in [0, 1] (each batch resized
    to RESIZE, a size or (height, width), if given), int64 labels."""
    def read(kind):
        with gzip.open(download(f"fashion-mnist/{kind}-images-idx3-ubyte.gz", root)) as f:
            images = numpy.frombuffer(f.read(), numpy.uint8, offset=16)
        with gzip.open(download(f"fashion-mnist/{kind}-labels-idx1-ubyte.gz", root)) as f:
            labels = numpy.frombuffer(f.read(), numpy.uint8, offset=8)
        return FashionMNIST(images, labels)
    def resized(batch):
        X, y = (paddle.to_tensor(numpy.stack(column)) for column in zip(*batch))
        return nn.functional.interpolate(X, size=(resize, resize) if isinstance(resize, int) else resize, mode="bilinear"), y
    collate = resized if resize is not None else None
    return (paddle.io.DataLoader(read("train"), batch_size=batch_size, shuffle=True, collate_fn=collate),
            paddle.io.DataLoader(read("t10k"), batch_size=batch_size, collate_fn=collate))
