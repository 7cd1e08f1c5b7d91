def flatten_steps(y_hat, y):
    """Sequence outputs [batch, time, classes] with labels [batch, time] become one example per step."""
    if y_hat.ndim > 2 and not numpy.issubdtype(y.dtype, numpy.floating):
        return y_hat.reshape(-1, y_hat.shape[-1]), y.reshape(-1)
    return y_hat, y


def train(net, data, loss_fn, optimizer, hyperparams, num_epochs, clip=None):
    """Minibatch training on try_gpu() with per-epoch validation; returns the history and plots it."""
    train_iter, val_iter = data
    ctx = try_gpu()
    net.collect_params().reset_ctx(ctx)
    net.hybridize()  # gluon's built-in layers run as cached graphs; a Block's own forward stays imperative
    trainer = gluon.Trainer(net.collect_params(), optimizer, hyperparams)
    history = {"train loss": [], "val loss": [], "val acc": []}
    for epoch in range(num_epochs):
        total, count = 0.0, 0
        for X, y in train_iter:
            X, y = X.as_in_context(ctx), y.as_in_context(ctx)
            with autograd.record():
                loss = loss_fn(*flatten_steps(net(X), y))
            loss.backward()
            if clip is not None:  # the gradients are of the summed loss: clip them at `clip` times the batch size
                grads = [p.grad().as_nd_ndarray() for p in net.collect_params().values() if p.grad_req != "null"]
                gluon.utils.clip_global_norm(grads, clip * loss.shape[0], check_isfinite=False)
            # a layer forward skipped this batch keeps its values, as PyTorch's optimizers skip it
            trainer.step(loss.shape[0], ignore_stale_grad=True)
            total += loss.sum()
            count += loss.shape[0]
        history["train loss"].append(float(total) / count)
        total, correct, count = 0.0, 0, 0
        for X, y in val_iter:
            X, y = X.as_in_context(ctx), y.as_in_context(ctx)
            y_hat, y = flatten_steps(net(X), y)
            total += loss_fn(y_hat, y).sum()
            if not numpy.issubdtype(y.dtype, numpy.floating):
                predictions = y_hat.argmax(axis=1)
                correct += (predictions == y.astype(predictions.dtype)).sum()
            count += y.shape[0]
        history["val loss"].append(float(total) / count)
        if not numpy.issubdtype(y.dtype, numpy.floating):  # a classifier: its accuracy, 0 included
            history["val acc"].append(int(correct) / count)
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items() if v))
    net.collect_params().reset_ctx(mx.cpu())  # back where the notebook's other arrays are
    plot_history(history)
    return history
