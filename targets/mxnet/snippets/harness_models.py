# Harness glue (never in notebooks): see targets/pytorch/snippets/harness_models.py.
def d2lc_build(net, X):
    net.initialize()
    net(X)
    return net


def d2lc_seeded(make, X, seed):
    """As targets/pytorch/snippets/harness_models.py's: gluon draws its deferred initialisers at the first call."""
    mx.random.seed(seed)
    return d2lc_build(make(), X)


def d2lc_tensors(net):
    return list(net.collect_params().values())


def d2lc_set_params(net, arrays):
    for p, a in zip(d2lc_tensors(net), arrays, strict=True):
        p.set_data(a.astype(p.dtype).reshape(p.shape))


def d2lc_params(net):
    return [p.data().asnumpy() for p in d2lc_tensors(net)]


D2LC_LOSSES = {"cross_entropy": lambda y_hat, y: gluon.loss.SoftmaxCrossEntropyLoss()(y_hat, y).mean(),
               "squared_loss": lambda y_hat, y: np.square(y_hat - y).mean()}


def d2lc_forward(net, X):
    return net(X)


def d2lc_grads(net, X, y, loss):
    with autograd.record():
        value = D2LC_LOSSES[loss](net(X), y)
    value.backward()
    return value, [p.grad() if p.grad_req != "null" else np.zeros(p.shape) for p in d2lc_tensors(net)]


def d2lc_steps(net, X, y, loss, optimizer, steps, batch=None, starts=None, trace=None):
    """As targets/pytorch/snippets/harness_models.py's (`set_data` keeps the trainer's state)."""
    trainer = gluon.Trainer(net.collect_params(), *optimizer)
    losses = []
    for i in range(steps):
        if starts is not None:
            d2lc_set_params(net, starts[i])
        Xb, yb = (X, y) if batch is None else (X[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
        with autograd.record():
            value = D2LC_LOSSES[loss](net(Xb), yb)
        value.backward()
        trainer.step(1)
        losses.append(float(value))
        if trace is not None:
            trace.append([a.copy() for a in d2lc_params(net)])  # a copy (as PyTorch's glue needs)
    return losses, d2lc_params(net)
