def adagrad_eps_after_sqrt(learning_rate, eps=1e-10):
    """Adagrad as the book writes it: w -= lr g / (sqrt(s) + eps), s the sum of squared gradients from 0
    (optax.adagrad adds eps to s under the square root)."""

    def init(params):
        return jax.tree.map(jnp.zeros_like, params)

    def update(grads, sums, params=None):
        sums = jax.tree.map(lambda s, g: s + g * g, sums, grads)
        return jax.tree.map(lambda g, s: g / (jnp.sqrt(s) + eps), grads, sums), sums

    return optax.chain(optax.GradientTransformation(init, update), optax.scale_by_learning_rate(learning_rate))
