def flatten_steps(y_hat, y):
    """Sequence outputs [batch, time, classes] with labels [batch, time] become one example per step."""
    if y_hat.ndim > 2 and jnp.issubdtype(y.dtype, jnp.integer):
        return y_hat.reshape(-1, y_hat.shape[-1]), y.reshape(-1)
    return y_hat, y


def train(net, data, loss_fn, optimizer, num_epochs, clip=None, seed=0, training_flag=False):
    """Minibatch training with a jitted step on full batches and per-epoch validation; returns the trained variables.
    With training_flag, net's `__call__` takes `training` (its Dropout or BatchNorm acts differently in training)."""
    train_batches, val_batches = data
    key, init_key = jax.random.split(jax.random.key(seed))
    first = next(iter(train_batches()))[0]
    in_training, in_inference = ({"training": True}, {"training": False}) if training_flag else ({}, {})
    variables = net.init(init_key, first, **in_inference)
    params, batch_stats = variables["params"], variables.get("batch_stats", {})
    constants = {k: v for k, v in variables.items() if k not in ("params", "batch_stats")}  # never trained
    if clip is not None:
        optimizer = optax.chain(optax.clip_by_global_norm(clip), optimizer)
    opt_state = optimizer.init(params)

    # the old parameters and optimizer state are donated: XLA writes the new ones into their buffers
    @functools.partial(jax.jit, donate_argnums=(0, 1, 2))
    def train_step(params, batch_stats, opt_state, X, y, dropout_key):
        def objective(params):
            y_hat, updates = net.apply({**constants, "params": params, "batch_stats": batch_stats}, X, **in_training,
                                       rngs={"dropout": dropout_key}, mutable=["batch_stats"])
            return loss_fn(*flatten_steps(y_hat, y)), updates
        (loss, updates), grads = jax.value_and_grad(objective, has_aux=True)(params)
        changes, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, changes), updates.get("batch_stats", batch_stats), opt_state, loss

    @jax.jit
    def eval_step(params, batch_stats, X, y):
        y_hat, y = flatten_steps(net.apply({**constants, "params": params, "batch_stats": batch_stats}, X, **in_inference), y)
        correct = (y_hat.argmax(axis=1) == y).sum() if jnp.issubdtype(y.dtype, jnp.integer) else 0
        return loss_fn(y_hat, y), correct

    history = {"train loss": [], "val loss": [], "val acc": []}
    for epoch in range(num_epochs):
        losses = []  # on the device until the epoch ends
        for X, y in train_batches():
            if len(X) < len(first):  # the last, partial batch is dropped: train_step compiles for one shape only
                continue
            key, dropout_key = jax.random.split(key)
            params, batch_stats, opt_state, loss = train_step(params, batch_stats, opt_state, X, y, dropout_key)
            losses.append(loss)
        history["train loss"].append(float(jnp.mean(jnp.stack(losses))))  # full batches: equal weights
        total, correct, count = 0.0, 0, 0
        for X, y in val_batches():
            loss, right = eval_step(params, batch_stats, X, y)
            total += loss * y.size
            correct += right
            count += y.size
        history["val loss"].append(float(total) / count)
        if jnp.issubdtype(y.dtype, jnp.integer):  # a classifier: its accuracy, 0 included
            history["val acc"].append(int(correct) / count)
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items() if v))
    plot_history(history)
    return {**constants, "params": params, "batch_stats": batch_stats}
