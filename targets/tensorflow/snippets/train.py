def flatten_steps(y_hat, y):
    """Sequence outputs [batch, time, classes] with labels [batch, time] become one example per step."""
    if len(y_hat.shape) > 2 and y.dtype.is_integer:
        return tf.reshape(y_hat, (-1, y_hat.shape[-1])), tf.reshape(y, (-1,))
    return y_hat, y


def train(net, data, loss_fn, optimizer, num_epochs, clip=None):
    """Minibatch training with per-epoch validation; returns the history and plots it."""
    train_ds, val_ds = data
    history = {"train loss": [], "val loss": [], "val acc": []}
    # running means, updated inside the compiled steps and read once per epoch
    train_loss, val_loss, val_acc = tf.keras.metrics.Mean(), tf.keras.metrics.Mean(), tf.keras.metrics.Mean()

    @tf.function  # one graph per input signature, as in TensorFlow's own training loops
    def train_step(X, y):
        with tf.GradientTape() as tape:
            y_hat, labels = flatten_steps(net(X, training=True), y)
            loss = loss_fn(labels, y_hat)
        # dense, as Keras Adam would miscount a token repeated in an embedding's sparse gradient
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, net.trainable_variables)]
        if clip is not None:
            grads, _ = tf.clip_by_global_norm(grads, clip)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        train_loss.update_state(loss, sample_weight=tf.shape(y)[0])

    @tf.function
    def eval_step(X, y):
        y_hat, labels = flatten_steps(net(X, training=False), y)
        val_loss.update_state(loss_fn(labels, y_hat), sample_weight=tf.shape(labels)[0])
        if labels.dtype.is_integer:  # a classifier: the fraction of right predictions
            val_acc.update_state(tf.cast(tf.argmax(y_hat, axis=1) == labels, tf.float32))

    for epoch in range(num_epochs):
        for metric in (train_loss, val_loss, val_acc):
            metric.reset_state()
        for X, y in train_ds:
            train_step(X, y)
        history["train loss"].append(float(train_loss.result()))
        for X, y in val_ds:
            eval_step(X, y)
        history["val loss"].append(float(val_loss.result()))
        if y.dtype.is_integer:  # a classifier: its accuracy, 0 included
            history["val acc"].append(float(val_acc.result()))
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items() if v))
    plot_history(history)
    return history
