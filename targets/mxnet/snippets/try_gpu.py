def try_gpu(i=0):
    """The i-th GPU if MXNet sees one, else the CPU."""
    return mx.gpu(i) if mx.context.num_gpus() > i else mx.cpu()
