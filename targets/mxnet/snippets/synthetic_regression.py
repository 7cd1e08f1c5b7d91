def synthetic_regression(w, b, num_train=1000, num_val=1000, noise=0.01, batch_size=32):
    """y = Xw + b + noise, split into shuffled training and ordered validation loaders."""
    n = num_train + num_val
    X = np.random.normal(0, 1, (n, len(w)))
    y = np.dot(X, w.reshape(-1, 1)) + b + noise * np.random.normal(0, 1, (n, 1))
    train = gluon.data.ArrayDataset(X[:num_train], y[:num_train])
    val = gluon.data.ArrayDataset(X[num_train:], y[num_train:])
    return gluon.data.DataLoader(train, batch_size, shuffle=True), gluon.data.DataLoader(val, batch_size)
