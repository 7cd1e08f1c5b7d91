def load_array(X, y, batch_size, shuffle=True, num_val=0):
    """Loaders of (X, y) minibatches: training (shuffled if asked), and validation on the last num_val examples
    (with num_val=0, on the training examples, in order)."""
    n = len(X) - num_val
    train = gluon.data.ArrayDataset(X[:n], y[:n])
    val = gluon.data.ArrayDataset(X[n:], y[n:]) if num_val else train
    return (gluon.data.DataLoader(train, batch_size, shuffle=shuffle),
            gluon.data.DataLoader(val, batch_size))
