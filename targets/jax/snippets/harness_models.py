# Harness glue (never in notebooks): see targets/pytorch/snippets/harness_models.py.
# A flax model is stateless, so the handle is [module, variables].
def d2lc_build(net, X):
    return [net, net.init(jax.random.PRNGKey(0), X, training=False)]


def d2lc_paths(variables):
    """(collection, path) of every array, parameters before their module's batch statistics."""
    out = []

    def walk(tree, path):
        leaves = sorted((k for k, v in tree.items() if not isinstance(v, dict)), key=d2lc_leaf_rank)
        for k in leaves:
            out.append(("params", path + (k,)))
        stats = variables.get("batch_stats", {})
        for p in path:
            stats = stats.get(p, {}) if isinstance(stats, dict) else {}
        if leaves and isinstance(stats, dict):
            out.extend(("batch_stats", path + (k,)) for k in ("mean", "var") if k in stats)
        for k in sorted((k for k, v in tree.items() if isinstance(v, dict)), key=d2lc_natural):
            walk(tree[k], path + (k,))

    walk(variables["params"], ())
    return out


def d2lc_natural(name):
    """Flax names submodules Dense_0, Dense_1, ..., layers_10: order them by creation, not as strings."""
    head, _, index = name.rpartition("_")
    return (head, int(index)) if index.isdigit() else (name, -1)


def d2lc_leaf_rank(name):
    order = ["kernel", "scale", "bias"]
    if name in D2LC_PARAM_ORDER:
        return (0, D2LC_PARAM_ORDER.index(name), name)
    return (1, order.index(name) if name in order else len(order), name)


def d2lc_get(tree, path):
    for p in path:
        tree = tree[p]
    return tree


def d2lc_params(handle):
    net, variables = handle
    return [numpy.asarray(d2lc_get(variables[c], p)) for c, p in d2lc_paths(variables)]


def d2lc_set_params(handle, arrays):
    net, variables = handle
    variables = jax.tree_util.tree_map(lambda x: x, dict(variables))
    for (c, path), a in zip(d2lc_paths(variables), arrays, strict=True):
        node = variables[c]
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = jnp.asarray(a, dtype=node[path[-1]].dtype).reshape(node[path[-1]].shape)
    handle[1] = variables


D2LC_LOSSES = {"cross_entropy": lambda y_hat, y: optax.softmax_cross_entropy_with_integer_labels(y_hat, y).mean(),
               "squared_loss": lambda y_hat, y: optax.squared_error(y_hat, y).mean()}


def d2lc_forward(handle, X):
    net, variables = handle
    return net.apply(variables, X, training=False)


def d2lc_objective(net, variables, X, y, loss):
    def objective(params):
        y_hat, _ = net.apply({**variables, "params": params}, X, training=True, rngs={"dropout": jax.random.PRNGKey(1)},
                             mutable=["batch_stats"])
        return D2LC_LOSSES[loss](y_hat, y)
    return objective


def d2lc_grads(handle, X, y, loss):
    net, variables = handle
    value, grads = jax.value_and_grad(d2lc_objective(net, variables, X, y, loss))(variables["params"])
    zeros = jax.tree_util.tree_map(jnp.zeros_like, variables)
    return value, [numpy.asarray(d2lc_get(grads, p)) if c == "params" else numpy.asarray(d2lc_get(zeros[c], p))
                   for c, p in d2lc_paths(variables)]


def d2lc_steps(handle, X, y, loss, tx, steps):
    net, variables = handle
    params = variables["params"]
    state = tx.init(params)
    losses = []
    for _ in range(steps):
        value, grads = jax.value_and_grad(d2lc_objective(net, variables, X, y, loss))(params)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        losses.append(float(value))
    handle[1] = {**variables, "params": params}
    return losses, d2lc_params(handle)
