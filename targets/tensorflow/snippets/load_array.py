def load_array(X, y, batch_size, shuffle=True, num_val=0):
    """Batched (X, y) data sets: training (shuffled every epoch if asked), and validation on the last num_val
    examples (with num_val=0, on the training examples, in order)."""
    n = len(X) - num_val
    train = tf.data.Dataset.from_tensor_slices((X[:n], y[:n]))
    val = tf.data.Dataset.from_tensor_slices((X[n:], y[n:])) if num_val else train
    # prefetch: the next batches are made while the model trains on this one
    return (train.shuffle(n) if shuffle else train).batch(batch_size).prefetch(tf.data.AUTOTUNE), val.batch(batch_size).prefetch(tf.data.AUTOTUNE)
