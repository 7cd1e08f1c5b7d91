def synthetic_regression(w, b, num_train=1000, num_val=1000, noise=0.01, batch_size=32, seed=0):
    """y = Xw + b + noise, as shuffled training and ordered validation minibatches."""
    key_X, key_noise = jax.random.split(jax.random.key(seed))
    n = num_train + num_val
    X = jax.random.normal(key_X, (n, len(w)))
    y = X @ w.reshape(-1, 1) + b + noise * jax.random.normal(key_noise, (n, 1))
    X, y = numpy.asarray(X), numpy.asarray(y)
    return (minibatches(X[:num_train], y[:num_train], batch_size, shuffle_seed=seed),
            minibatches(X[num_train:], y[num_train:], batch_size))
