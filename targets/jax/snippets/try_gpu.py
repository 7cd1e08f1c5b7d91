def try_gpu(i=0):
    """The i-th GPU if JAX sees one, else the CPU."""
    gpus = [d for d in jax.devices() if d.platform == "gpu"]
    return gpus[i] if len(gpus) > i else jax.devices("cpu")[0]
