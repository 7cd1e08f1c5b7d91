def minibatches(X, y, batch_size, shuffle_seed=None):
    """A function returning an iterator of minibatches; with a seed, examples are reshuffled every call."""
    rng = numpy.random.default_rng(shuffle_seed)

    def batches():
        order = rng.permutation(len(X)) if shuffle_seed is not None else numpy.arange(len(X))
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            yield jnp.asarray(X[idx]), jnp.asarray(y[idx])

    return batches
