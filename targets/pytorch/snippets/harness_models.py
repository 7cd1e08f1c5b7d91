# Harness glue (never in notebooks): build a model, move parameters in and out in canonical order,
# run forward, gradients and optimizer steps. Parameters arrive and leave in this framework's layout.
def d2lc_build(net, X):
    with torch.no_grad():
        net(X)  # materialise lazy layers
    return net


def d2lc_tensors(net):
    out = []
    for module in net.modules():
        out.extend(module.parameters(recurse=False))
        out.extend(b for name, b in module.named_buffers(recurse=False) if name != "num_batches_tracked")
    return out


def d2lc_set_params(net, arrays):
    with torch.no_grad():
        for t, a in zip(d2lc_tensors(net), arrays, strict=True):
            t.copy_(torch.as_tensor(a, dtype=t.dtype).reshape(t.shape))


def d2lc_params(net):
    return [t.detach().cpu().numpy() for t in d2lc_tensors(net)]


D2LC_LOSSES = {"cross_entropy": nn.functional.cross_entropy, "squared_loss": nn.functional.mse_loss}


def d2lc_forward(net, X):
    net.eval()
    with torch.no_grad():
        return net(X)


def d2lc_grads(net, X, y, loss):
    net.train()
    value = D2LC_LOSSES[loss](net(X), y)
    params = [t for t in d2lc_tensors(net) if t.requires_grad]
    grads = torch.autograd.grad(value, params)
    grad_of = {id(p): g for p, g in zip(params, grads)}
    return value.detach(), [grad_of[id(t)] if id(t) in grad_of else torch.zeros_like(t) for t in d2lc_tensors(net)]


def d2lc_steps(net, X, y, loss, make_optimizer, steps, batch=None):
    net.train()
    opt = make_optimizer(net.parameters())
    losses = []
    for i in range(steps):
        Xb, yb = (X, y) if batch is None else (X[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
        value = D2LC_LOSSES[loss](net(Xb), yb)
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(value.item())
    return losses, d2lc_params(net)


D2LC_ROLES = ["dense_weight", "dense_bias", "conv_kernel", "conv_bias", "bn_gamma", "bn_beta", "bn_mean", "bn_var",
              "ln_gamma", "ln_beta", "embedding", "param", "rnn_weight_ih", "rnn_weight_hh", "rnn_bias_ih", "rnn_bias_hh"]
D2LC_CELLS = [nn.RNN, nn.GRU, nn.LSTM]  # a row's cell: 1 + the index here for a recurrent layer's tensors, else 0
D2LC_RECURRENT = {"weight_ih_l0": "rnn_weight_ih", "weight_hh_l0": "rnn_weight_hh", "bias_ih_l0": "rnn_bias_ih",
                  "bias_hh_l0": "rnn_bias_hh"}  # one layer, one direction: the only recurrent layers the DSL has


def d2lc_describe(net, X):
    """(role, shape, flattened [C, H, W] or (0, 0, 0), recurrent cell) of every tensor, in d2lc_tensors order: the
    canonical layout."""
    pending, chw, hooks = [None], {}, []

    def hook(module, inputs, output):
        if isinstance(module, nn.Flatten):
            pending[0] = tuple(inputs[0].shape[1:]) if inputs[0].dim() == 4 else None
        elif isinstance(module, nn.Linear):
            chw[module] = pending[0]
            pending[0] = None
        elif any(True for _ in module.parameters(recurse=False)):
            pending[0] = None

    for module in net.modules():
        if not list(module.children()):
            hooks.append(module.register_forward_hook(hook))
    with torch.no_grad():
        net(X)
    for h in hooks:
        h.remove()
    out = []
    for module in net.modules():
        names = [n for n, _ in module.named_parameters(recurse=False)]
        names += [n for n, _ in module.named_buffers(recurse=False) if n != "num_batches_tracked"]
        for name in names:
            t = getattr(module, name)
            if isinstance(module, nn.Linear):
                role = "dense_weight" if name == "weight" else "dense_bias"
            elif isinstance(module, nn.Conv2d):
                role = "conv_kernel" if name == "weight" else "conv_bias"
            elif isinstance(module, nn.modules.batchnorm._BatchNorm):
                role = {"weight": "bn_gamma", "bias": "bn_beta", "running_mean": "bn_mean", "running_var": "bn_var"}[name]
            elif isinstance(module, nn.LayerNorm):
                role = "ln_gamma" if name == "weight" else "ln_beta"
            elif isinstance(module, nn.Embedding):
                role = "embedding"
            elif isinstance(module, nn.RNNBase):
                role = D2LC_RECURRENT[name]  # a KeyError (stacked or bidirectional layers) fails the description
            else:
                role = "param"
            flat = chw.get(module) if role == "dense_weight" else None
            cell = D2LC_CELLS.index(type(module)) + 1 if type(module) in D2LC_CELLS else 0
            out.append((D2LC_ROLES.index(role), tuple(t.shape), tuple(flat) if flat else (0, 0, 0), cell))
    return tuple(out)
