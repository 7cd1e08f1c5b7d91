def fashion_mnist(batch_size=64, root=None, resize=None):
    """Fashion-MNIST (downloaded once, see `download`): images [n, 1, 28, 28] in [0, 1] (each resized to
    RESIZE, a size or (height, width), if given), int64 labels."""
    def read(kind):
        with gzip.open(download(f"fashion-mnist/{kind}-images-idx3-ubyte.gz", root)) as f:
            images = numpy.frombuffer(f.read(), numpy.uint8, offset=16)
        with gzip.open(download(f"fashion-mnist/{kind}-labels-idx1-ubyte.gz", root)) as f:
            labels = numpy.frombuffer(f.read(), numpy.uint8, offset=8)
        X = np.array(images.reshape(-1, 1, 28, 28), dtype=np.float32) / 255
        data = gluon.data.ArrayDataset(X, np.array(labels, dtype=np.int64))
        if resize is None:
            return data
        height, width = (resize, resize) if isinstance(resize, int) else resize
        # npx.image.resize takes images [height, width, channels] and the size as (width, height)
        return data.transform_first(lambda x: npx.image.resize(x.transpose(1, 2, 0), (width, height)).transpose(2, 0, 1))
    return (gluon.data.DataLoader(read("train"), batch_size, shuffle=True),
            gluon.data.DataLoader(read("t10k"), batch_size))
