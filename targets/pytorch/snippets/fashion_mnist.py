def fashion_mnist(batch_size=64, root=None, resize=None):
    """Fashion-MNIST (downloaded once, see `download`): images [n, 1, 28, 28] in [0, 1] (each batch resized
    to RESIZE, a size or (height, width), if given), int64 labels."""
    def read(kind):
        with gzip.open(download(f"fashion-mnist/{kind}-images-idx3-ubyte.gz", root)) as f:
            images = numpy.frombuffer(f.read(), numpy.uint8, offset=16)
        with gzip.open(download(f"fashion-mnist/{kind}-labels-idx1-ubyte.gz", root)) as f:
            labels = numpy.frombuffer(f.read(), numpy.uint8, offset=8)
        X = torch.tensor(images.reshape(-1, 1, 28, 28), dtype=torch.float32) / 255
        return torch.utils.data.TensorDataset(X, torch.tensor(labels, dtype=torch.int64))
    def resized(batch):
        X, y = torch.utils.data.default_collate(batch)
        return nn.functional.interpolate(X, size=resize, mode="bilinear"), y
    collate = resized if resize is not None else None
    return (torch.utils.data.DataLoader(read("train"), batch_size, shuffle=True, collate_fn=collate),
            torch.utils.data.DataLoader(read("t10k"), batch_size, collate_fn=collate))
