# Harness glue (never in notebooks): see targets/pytorch/snippets/harness_models.py.
def d2lc_build(net, X):
    net(X, training=False)
    return net


def d2lc_seeded(make, X, seed):
    """As targets/pytorch/snippets/harness_models.py's: Keras' global seed (its initialisers draw from it)."""
    tf.keras.utils.set_random_seed(seed)
    return d2lc_build(make(), X)


def d2lc_tensors(net):
    """Parameters and statistics; Keras 3 also tracks the state of its random seed generators (recurrent, dropout)."""
    return [v for v in net.variables if not v.path.endswith("seed_generator_state")]


def d2lc_set_params(net, arrays):
    for v, a in zip(d2lc_tensors(net), arrays, strict=True):
        v.assign(tf.reshape(tf.cast(a, v.dtype), v.shape))


def d2lc_params(net):
    return [v.numpy() for v in d2lc_tensors(net)]


D2LC_LOSSES = {"cross_entropy": lambda y_hat, y: tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, y_hat)),
               "squared_loss": lambda y_hat, y: tf.reduce_mean(tf.square(y_hat - y))}


def d2lc_forward(net, X):
    return net(X, training=False)


def d2lc_grads(net, X, y, loss):
    with tf.GradientTape() as tape:
        value = D2LC_LOSSES[loss](net(X, training=True), y)
    trainable = net.trainable_variables
    grads = tape.gradient(value, trainable, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    grad_of = {id(v): tf.convert_to_tensor(g) for v, g in zip(trainable, grads)}  # embeddings give IndexedSlices
    return value, [grad_of.get(id(v), tf.zeros_like(v)) for v in d2lc_tensors(net)]


def d2lc_steps(net, X, y, loss, opt, steps, batch=None, starts=None, trace=None):
    """As targets/pytorch/snippets/harness_models.py's (`assign` keeps the optimizer's slots)."""
    opt = opt.__class__.from_config(opt.get_config())  # a Keras optimizer is bound to the first model it updates
    losses = []
    for i in range(steps):
        if starts is not None:
            d2lc_set_params(net, starts[i])
        Xb, yb = (X, y) if batch is None else (X[i * batch:(i + 1) * batch], y[i * batch:(i + 1) * batch])
        with tf.GradientTape() as tape:
            value = D2LC_LOSSES[loss](net(Xb, training=True), yb)
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(value, net.trainable_variables)]  # as the train helper
        opt.apply_gradients(zip(grads, net.trainable_variables))
        losses.append(float(value))
        if trace is not None:
            trace.append([a.copy() for a in d2lc_params(net)])  # a copy (as PyTorch's glue needs)
    return losses, d2lc_params(net)
