def symmetric_uniform(bound):
    """An initialiser drawing from U(-bound, bound) (flax's own `uniform` initialiser draws from [0, scale))."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init
