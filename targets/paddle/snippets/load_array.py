def load_array(X, y, batch_size, shuffle=True, num_val=0):
    """Loaders of (X, y) minibatches: training (shuffled if asked), and validation on the last num_val examples
    (with num_val=0, on the training examples, in order)."""
    n = len(X) - num_val
    train = paddle.io.TensorDataset([X[:n], y[:n]])
    val = paddle.io.TensorDataset([X[n:], y[n:]]) if num_val else train
    return (paddle.io.DataLoader(train, batch_size=batch_size, shuffle=shuffle),
            paddle.io.DataLoader(val, batch_size=batch_size))
