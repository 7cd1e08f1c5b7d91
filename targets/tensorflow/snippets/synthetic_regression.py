def synthetic_regression(w, b, num_train=1000, num_val=1000, noise=0.01, batch_size=32):
    """y = Xw + b + noise; examples are shuffled before batching, every epoch, and batches made ahead."""
    n = num_train + num_val
    X = tf.random.normal((n, len(w)))
    y = tf.matmul(X, tf.reshape(w, (-1, 1))) + b + noise * tf.random.normal((n, 1))
    train = tf.data.Dataset.from_tensor_slices((X[:num_train], y[:num_train]))
    val = tf.data.Dataset.from_tensor_slices((X[num_train:], y[num_train:]))
    return train.shuffle(num_train).batch(batch_size).prefetch(tf.data.AUTOTUNE), val.batch(batch_size).prefetch(tf.data.AUTOTUNE)
