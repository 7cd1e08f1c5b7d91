def train(net, data, loss_fn, optimizer, hyperparams, num_epochs, clip=None):
    """Minibatch training with per-epoch validation; returns the history and plots it."""
    train_iter, val_iter = data
    trainer = gluon.Trainer(net.collect_params(), optimizer, hyperparams)
    history = {"train loss": [], "val loss": [], "val acc": []}
    for epoch in range(num_epochs):
        total, count = 0.0, 0
        for X, y in train_iter:
            with autograd.record():
                loss = loss_fn(net(X), y)
            loss.backward()
            if clip is not None:
                grads = [p.grad() for p in net.collect_params().values() if p.grad_req != "null"]
                gluon.utils.clip_global_norm(grads, clip * X.shape[0])
            trainer.step(X.shape[0])
            total += float(loss.sum())
            count += X.shape[0]
        history["train loss"].append(total / count)
        total, correct, count = 0.0, 0, 0
        for X, y in val_iter:
            y_hat = net(X)
            total += float(loss_fn(y_hat, y).sum())
            if not numpy.issubdtype(y.dtype, numpy.floating):
                correct += int((y_hat.argmax(axis=1) == y.astype(y_hat.argmax(axis=1).dtype)).sum())
            count += X.shape[0]
        history["val loss"].append(total / count)
        if correct:
            history["val acc"].append(correct / count)
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items() if v))
    for name, values in history.items():
        if values:
            plt.plot(range(1, len(values) + 1), values, label=name)
    plt.xlabel("epoch")
    plt.legend()
    plt.show()
    return history
