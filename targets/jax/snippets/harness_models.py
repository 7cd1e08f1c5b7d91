# Harness glue (never in notebooks): see targets/pytorch/snippets/harness_models.py.
# A flax model is stateless, so the handle is [module, variables, submodule paths in call order]; D2LC_MODE(training)
# is the keyword the model under test takes (build/modgen.py: only a model with Dropout or BatchNorm takes one).
D2LC_BUILT = {}  # (module, input shape, dtype) -> (variables, call order): structure only, every check overwrites


def d2lc_build(net, X):
    """[module, variables, call order]; a module built before for inputs of this shape is not traced again (the
    checks load their own parameters, and init's draws from key 0 are the same every time)."""
    key = (net, tuple(X.shape), str(X.dtype))
    if key not in D2LC_BUILT:
        variables = net.init(jax.random.key(0), X, **D2LC_MODE(False))
        D2LC_BUILT[key] = (variables, d2lc_call_order(net, variables, X))
    variables, order = D2LC_BUILT[key]
    return [net, variables, order]


def d2lc_seeded(make, X, seed):
    """As targets/pytorch/snippets/harness_models.py's: the flax module's own `init` from the key of `seed`."""
    net = make()
    return [net, net.init(jax.random.key(seed), X, **D2LC_MODE(False)), None]


def d2lc_call_order(net, variables, X):
    """(path, class name) of the submodules in PyTorch's `modules()` order: depth first, each module's children in
    the order they were made (a model's members as declared; flax sorts its parameter names, and the order forward
    calls them in differs where a member declared first is called later, or a tied one is called twice)."""
    classes, children = {}, {}

    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__" and context.module.scope is not None:
            path = tuple(context.module.scope.path)
            classes.setdefault(path, type(context.module).__name__)
            made = [k for k, v in context.module._state.children.items() if isinstance(v, nn.Module)]
            children[path] = list(dict.fromkeys(children.get(path, []) + made))
        return out

    with nn.intercept_methods(interceptor):
        net.apply(variables, X, **D2LC_MODE(False))
    order = []

    def visit(path):
        if path in classes and path not in [p for p, _ in order]:
            order.append((path, classes[path]))
        for name in children.get(path, []):
            visit(path + (name,))

    visit(())
    return order


def d2lc_paths(handle):
    """(collection, path) of every array: modules in call order, each one's parameters before its statistics."""
    variables, order = handle[1], handle[2]
    out = []
    for path, cls in order:
        node, stats = variables.get("params", {}), variables.get("batch_stats", {})  # a model may have no parameters
        consts = variables.get("constants", {})  # param(..., trainable=False), after the parameters like torch's buffers
        for p in path:
            node = node.get(p, {}) if isinstance(node, dict) else {}
            stats = stats.get(p, {}) if isinstance(stats, dict) else {}
            consts = consts.get(p, {}) if isinstance(consts, dict) else {}
        declared = D2LC_PARAM_ORDERS.get(cls, [])  # a model's own param(...) names, in declaration order
        leaves = sorted((k for k, v in node.items() if not isinstance(v, dict)), key=lambda k: d2lc_leaf_rank(declared, k))
        out.extend(("params", path + (k,)) for k in leaves)
        out.extend(("constants", path + (k,)) for k in sorted((k for k, v in consts.items() if not isinstance(v, dict)),
                                                             key=lambda k: d2lc_leaf_rank(declared, k)))
        out.extend(("batch_stats", path + (k,)) for k in ("mean", "var") if isinstance(stats, dict) and k in stats)
    return out


def d2lc_leaf_rank(declared, name):
    order = ["kernel", "scale", "embedding", "bias"]
    if name in declared:
        return (0, declared.index(name), name)
    return (1, order.index(name) if name in order else len(order), name)


def d2lc_get(tree, path):
    for p in path:
        tree = tree[p]
    return tree


def d2lc_params(handle):
    variables = handle[1]
    return [numpy.asarray(d2lc_get(variables[c], p)) for c, p in d2lc_paths(handle)]


def d2lc_set_params(handle, arrays):
    variables = jax.tree_util.tree_map(lambda x: x, dict(handle[1]))
    for (c, path), a in zip(d2lc_paths(handle), arrays, strict=True):
        node = variables[c]
        for p in path[:-1]:
            node = node[p]
        node[path[-1]] = jnp.asarray(a, dtype=node[path[-1]].dtype).reshape(node[path[-1]].shape)
    handle[1] = variables


D2LC_LOSSES = {"cross_entropy": lambda y_hat, y: optax.softmax_cross_entropy_with_integer_labels(y_hat, y).mean(),
               "squared_loss": lambda y_hat, y: optax.squared_error(y_hat, y).mean()}


D2LC_EAGER = set()  # modules whose forward branches on a value (`while X.sum() > 1:`): they cannot be traced, run op by op


def d2lc_jitted(fn, static):
    """`fn` jitted with its first `static` arguments static, falling back to `fn` itself for a module that Python
    control flow on values keeps from being traced (the notebooks call such a model eagerly too)."""
    jitted = jax.jit(fn, static_argnums=tuple(range(static)))

    def call(net, *args):
        if net not in D2LC_EAGER:
            try:
                return jitted(net, *args)
            except jax.errors.ConcretizationTypeError:
                D2LC_EAGER.add(net)
        return fn(net, *args)
    return call


def d2lc_apply_eval(net, variables, X):
    return net.apply(variables, X, **D2LC_MODE(False))


d2lc_apply = d2lc_jitted(d2lc_apply_eval, 1)


def d2lc_forward(handle, X):
    """Eval-mode outputs, jitted as the notebooks' evaluation is (one compile per model and input shape)."""
    return d2lc_apply(handle[0], handle[1], X)


def d2lc_objective(net, variables, X, y, loss):
    def objective(params):
        y_hat, updated = net.apply({**variables, "params": params}, X, **D2LC_MODE(True), rngs={"dropout": jax.random.key(1)},
                                   mutable=["batch_stats"])
        return D2LC_LOSSES[loss](y_hat, y), updated  # the running statistics a training step leaves
    return objective


def d2lc_loss_and_grad(net, loss, variables, params, X, y):
    """The loss, the running statistics it leaves and its gradient."""
    return jax.value_and_grad(d2lc_objective(net, variables, X, y, loss), has_aux=True)(params)


# one compile per model, loss and batch shape (the notebooks' train step is jitted too; eager dispatch would
# compile each op on its own)
d2lc_value_and_grad = d2lc_jitted(d2lc_loss_and_grad, 2)


@functools.partial(jax.jit, static_argnums=0)
def d2lc_update(tx, grads, state, params):
    updates, state = tx.update(grads, state, params)
    return optax.apply_updates(params, updates), state


def d2lc_grads(handle, X, y, loss):
    net, variables = handle[0], handle[1]
    (value, _), grads = d2lc_value_and_grad(net, loss, variables, variables.get("params", {}), X, y)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, variables)
    return value, [numpy.asarray(d2lc_get(grads, p)) if c == "params" else numpy.asarray(d2lc_get(zeros[c], p))
                   for c, p in d2lc_paths(handle)]


def d2lc_steps(handle, X, y, loss, tx, steps, batch=None, starts=None, trace=None):
    """As targets/pytorch/snippets/harness_models.py's (the optimizer state carries over a reload)."""
    net, variables = handle[0], handle[1]
    params = variables.get("params", {})
    state = tx.init(params)
    losses = []
    for i in range(steps):
        if starts is not None:
            d2lc_set_params(handle, starts[i])
            variables = handle[1]
            params = variables.get("params", {})
        Xb, yb = (X, y) if batch is None else (X[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
        (value, updated), grads = d2lc_value_and_grad(net, loss, variables, params, Xb, yb)
        variables = {**variables, **updated}
        params, state = d2lc_update(tx, grads, state, params)
        losses.append(float(value))
        handle[1] = {**variables, "params": params}
        if trace is not None:
            trace.append([a.copy() for a in d2lc_params(handle)])
    handle[1] = {**variables, "params": params}
    return losses, d2lc_params(handle)


class D2lcStarted:
    """The model under test as the chapter's `train` receives it (harness/sametrain.py): its `init` gives the
    harness' parameters instead of drawing new ones; `apply` is the module's."""

    def __init__(self, handle):
        self.module, self.variables = handle[0], handle[1]

    def init(self, key, *args, **kwargs):
        return self.variables

    def apply(self, *args, **kwargs):
        return self.module.apply(*args, **kwargs)


def d2lc_trainee(handle):
    return D2lcStarted(handle)
