def flatten_steps(y_hat, y):
    """Sequence outputs [batch, time, classes] with labels [batch, time] become one example per step."""
    if y_hat.ndim > 2 and not y.is_floating_point():
        return y_hat.reshape([-1, y_hat.shape[-1]]), y.reshape([-1])
    return y_hat, y


def train(net, data, loss_fn, make_optimizer, num_epochs, clip=None):
    """Minibatch training with per-epoch validation; returns the history and plots it."""
    train_iter, val_iter = data
    # run one batch so that lazily built layers exist before the optimizer collects the parameters (in eval mode:
    # no BatchNorm statistics update)
    net.eval()
    with paddle.no_grad():
        net(next(iter(train_iter))[0])
    optimizer = make_optimizer(net.parameters())
    history = {"train loss": [], "val loss": [], "val acc": []}
    for epoch in range(num_epochs):
        net.train()
        total, count = 0.0, 0
        for X, y in train_iter:
            loss = loss_fn(*flatten_steps(net(X), y))
            optimizer.clear_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(net.parameters(), clip)
            optimizer.step()
            total += loss.detach() * len(y)
            count += len(y)
        history["train loss"].append(float(total) / count)
        net.eval()
        total, correct, count = 0.0, 0, 0
        with paddle.no_grad():
            for X, y in val_iter:
                y_hat, y = flatten_steps(net(X), y)
                total += loss_fn(y_hat, y) * len(y)
                if not y.is_floating_point():
                    correct += (y_hat.argmax(axis=1) == y).sum()
                count += len(y)
        history["val loss"].append(float(total) / count)
        if not y.is_floating_point():  # a classifier: its accuracy, 0 included
            history["val acc"].append(int(correct) / count)
        print(f"epoch {epoch + 1}: " + ", ".join(f"{k} {v[-1]:.4f}" for k, v in history.items() if v))
    plot_history(history)
    return history
