# Harness glue (never in notebooks): see targets/pytorch/snippets/harness_models.py. BatchNorm keeps
# its running statistics as non-trainable parameters.
def d2lc_build(net, X):
    net.eval()  # a pass to build lazy layers moves no BatchNorm statistics
    with paddle.no_grad():
        net(X)  # build the layers wrapped in Lazy
    net.train()
    return net


def d2lc_seeded(make, X, seed):
    """As targets/pytorch/snippets/harness_models.py's: paddle's own generator, seeded."""
    paddle.seed(seed)
    return d2lc_build(make(), X)


def d2lc_tensors(net):
    """Every parameter and statistic once: a recurrent layer lists its cell's parameters as its own too, and keeps an
    uninitialised dropout state."""
    out, seen = [], set()
    for layer in net.sublayers(include_self=True):
        for t in [*layer.parameters(include_sublayers=False), *layer.buffers(include_sublayers=False)]:
            if id(t) not in seen and t._is_initialized():
                seen.add(id(t))
                out.append(t)
    return out


def d2lc_set_params(net, arrays):
    with paddle.no_grad():
        for t, a in zip(d2lc_tensors(net), arrays, strict=True):
            t.set_value(paddle.to_tensor(a, dtype=t.dtype).reshape(t.shape))


def d2lc_params(net):
    return [t.numpy() for t in d2lc_tensors(net)]


D2LC_LOSSES = {"cross_entropy": nn.functional.cross_entropy, "squared_loss": nn.functional.mse_loss}


def d2lc_forward(net, X):
    net.eval()
    with paddle.no_grad():
        return net(X)


def d2lc_grads(net, X, y, loss):
    net.train()
    value = D2LC_LOSSES[loss](net(X), y)
    tensors = d2lc_tensors(net)
    params = [t for t in tensors if not t.stop_gradient]
    grads = paddle.grad(value, params, allow_unused=True)
    grad_of = {id(p): g for p, g in zip(params, grads)}
    return value.detach(), [grad_of[id(t)] if grad_of.get(id(t)) is not None else paddle.zeros_like(t) for t in tensors]


def d2lc_steps(net, X, y, loss, make_optimizer, steps, batch=None, starts=None, trace=None):
    """`steps` optimizer steps; `starts` (one parameter list per step) reloads the parameters before each step while the
    optimizer keeps its state (the harness' per-step check, see targets/pytorch/snippets/harness_models.py); `trace` collects the parameters after each."""
    net.train()
    opt = make_optimizer(net.parameters())
    losses = []
    for i in range(steps):
        if starts is not None:
            d2lc_set_params(net, starts[i])
        Xb, yb = (X, y) if batch is None else (X[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
        value = D2LC_LOSSES[loss](net(Xb), yb)
        opt.clear_grad()
        value.backward()
        opt.step()
        losses.append(value.item())
        if trace is not None:
            trace.append([a.copy() for a in d2lc_params(net)])  # a copy (as PyTorch's glue needs)
    return losses, d2lc_params(net)
