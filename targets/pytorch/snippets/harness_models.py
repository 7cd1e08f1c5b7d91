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


def d2lc_steps(net, X, y, loss, make_optimizer, steps):
    net.train()
    opt = make_optimizer(net.parameters())
    losses = []
    for _ in range(steps):
        value = D2LC_LOSSES[loss](net(X), y)
        opt.zero_grad()
        value.backward()
        opt.step()
        losses.append(value.item())
    return losses, d2lc_params(net)
