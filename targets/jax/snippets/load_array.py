def load_array(X, y, batch_size, shuffle=True, num_val=0, seed=0):
    """(X, y) minibatches: training (reshuffled every epoch if asked), and validation on the last num_val
    examples (with num_val=0, on the training examples, in order)."""
    X, y = numpy.asarray(X), numpy.asarray(y)
    n = len(X) - num_val
    val = (X[n:], y[n:]) if num_val else (X[:n], y[:n])
    return (minibatches(X[:n], y[:n], batch_size, shuffle_seed=seed if shuffle else None),
            minibatches(*val, batch_size))
