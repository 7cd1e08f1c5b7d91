def synthetic_regression(w, b, num_train=1000, num_val=1000, noise=0.01, batch_size=32):
    """y = Xw + b + noise, split into shuffled training and ordered validation loaders."""
    n = num_train + num_val
    X = torch.randn(n, len(w))
    y = X @ w.reshape(-1, 1) + b + noise * torch.randn(n, 1)
    train = torch.utils.data.TensorDataset(X[:num_train], y[:num_train])
    val = torch.utils.data.TensorDataset(X[num_train:], y[num_train:])
    return (torch.utils.data.DataLoader(train, batch_size, shuffle=True),
            torch.utils.data.DataLoader(val, batch_size))
