def flatten_steps(y_hat, y):
    """Sequence outputs [batch, time, classes] with labels [batch, time] become one example per step."""
    if len(y_hat.shape) > 2 and y.dtype.is_integer:
        return tf.reshape(y_hat, (-1, y_hat.shape[-1])), tf.reshape(y, (-1,))
    return y_hat, y


def train(net, data, loss_fn, optimizer, num_epochs, clip=None):
    """Minibatch training with per-epoch validation; returns the history and plots it."""
    train_ds, val_ds = data
    history = {"train loss": [], "val loss": [], "val acc": []}

    @tf.function  # one graph per input signature, as in TensorFlow's own training loops
    def train_step(X, y):
        with tf.GradientTape() as tape:
            y_hat, labels = flatten_steps(net(X, training=True), y)
            loss = loss_fn(labels, y_hat)
        # dense gradients: Keras Adam squares an embedding's sparse gradient row by row, miscounting repeated tokens
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, net.trainable_variables)]
        if clip is not None:
            grads, _ = tf.clip_by_global_norm(grads, clip)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    for epoch in range(num_epochs):
        total, count = 0.0, 0
        for X, y in train_ds:
            loss = train_step(X, y)
            total += loss * len(y)
            count += len(y)
        history["train loss"].append(float(total) / count)
        total, correct, count = 0.0, 0, 0
        for X, y in val_ds:
            y_hat, y = flatten_steps(net(X, training=False), y)
            total += loss_fn(y, y_hat) * len(y)
            if y.dtype.is_integer:
                correct += tf.reduce_sum(tf.cast(tf.argmax(y_hat, axis=1) == y, tf.int32))
            count += len(y)
        history["val loss"].append(float(total) / count)
        if y.dtype.is_integer:  # a classifier: its accuracy, 0 included
            history["val acc"].append(int(correct) / count)
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items() if v))
    plot_history(history)
    return history
