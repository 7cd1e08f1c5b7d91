# Harness glue (never in notebooks): build a model, move parameters in and out in canonical order,
# run forward, gradients and optimizer steps. Parameters arrive and leave in this framework's layout.
def d2lc_build(net, X):
    net.eval()  # a pass to build lazy layers moves no BatchNorm statistics
    with torch.no_grad():
        net(X)  # materialise lazy layers
    net.train()
    return net


def d2lc_seeded(make, X, seed):
    """The model `make()` builds, initialised by its own emitted initialisers from a seeded generator
    (harness/owninit.py: the own-initialisation check)."""
    torch.manual_seed(seed)
    return d2lc_build(make(), X)


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


def d2lc_steps(net, X, y, loss, make_optimizer, steps, batch=None, starts=None, trace=None):
    """`steps` optimizer steps; `starts` (one parameter list per step) reloads the parameters before each step while the
    optimizer keeps its state (the harness' per-step check, harness/shadow.py); `trace` collects the parameters after each."""
    net.train()
    opt = make_optimizer(net.parameters())
    losses = []
    for i in range(steps):
        if starts is not None:
            d2lc_set_params(net, starts[i])
        Xb, yb = (X, y) if batch is None else (X[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
        value = D2LC_LOSSES[loss](net(Xb), yb)
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(value.item())
        if trace is not None:
            trace.append([a.copy() for a in d2lc_params(net)])  # a copy: PyTorch's arrays share the live tensors' memory
    return losses, d2lc_params(net)


# D2LC_ROLES (every parameter role) and D2LC_WEIGHT_NAMES ({layer kind: {tensor name: role}}) come from the layer
# specs (d2lc.core.layers), written into the harness module: a PyTorch layer class is named as its DSL layer.


def d2lc_describe(net, X):
    """(role, shape, flattened [C, H, W] or (0, 0, 0), layer kind) of every tensor, in d2lc_tensors order: the
    canonical layout. A role is its index in D2LC_ROLES, a kind 1 + its index in D2LC_WEIGHT_NAMES (0: none)."""
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
    net.eval()
    with torch.no_grad():
        net(X)
    net.train()
    for h in hooks:
        h.remove()
    out = []
    for module in net.modules():
        names = [n for n, _ in module.named_parameters(recurse=False)]
        names += [n for n, _ in module.named_buffers(recurse=False) if n != "num_batches_tracked"]
        kind = type(module).__name__
        roles = D2LC_WEIGHT_NAMES.get(kind)  # None: a model's own param(...) tensors
        buffers = {n for n, _ in module.named_buffers(recurse=False)}
        for name in names:
            t = getattr(module, name)
            own = "constant" if name in buffers else "param"  # a model's own buffer: param(..., trainable=False)
            # a stacked or bidirectional recurrent layer's other groups (weight_ih_l1, weight_ih_l0_reverse) have l0's roles
            role = (roles.get(name) or roles[name.split("_l")[0] + "_l0"]) if roles is not None else own
            flat = chw.get(module) if role == "dense_weight" else None
            kind_index = list(D2LC_WEIGHT_NAMES).index(kind) + 1 if roles is not None else 0
            out.append((D2LC_ROLES.index(role), tuple(t.shape), tuple(flat) if flat else (0, 0, 0), kind_index))
    return tuple(out)
