def synthetic_regression(w, b, num_train=1000, num_val=1000, noise=0.01, batch_size=32):
    """y = Xw + b + noise, split into shuffled training and ordered validation loaders."""
    n = num_train + num_val
    X = paddle.randn([n, len(w)])
    y = X @ w.reshape([-1, 1]) + b + noise * paddle.randn([n, 1])
    train = paddle.io.TensorDataset([X[:num_train], y[:num_train]])
    val = paddle.io.TensorDataset([X[num_train:], y[num_train:]])
    return (paddle.io.DataLoader(train, batch_size=batch_size, shuffle=True),
            paddle.io.DataLoader(val, batch_size=batch_size))
