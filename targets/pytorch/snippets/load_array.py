def load_array(X, y, batch_size, shuffle=True, num_val=0):
    """Loaders of (X, y) minibatches: training (shuffled if asked), and validation on the last num_val examples
    (with num_val=0, on the training examples, in order)."""
    n = len(X) - num_val
    train = torch.utils.data.TensorDataset(X[:n], y[:n])
    val = torch.utils.data.TensorDataset(X[n:], y[n:]) if num_val else train
    return (torch.utils.data.DataLoader(train, batch_size, shuffle=shuffle),
            torch.utils.data.DataLoader(val, batch_size))
