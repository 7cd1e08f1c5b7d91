def try_all_gpus():
    """Every GPU MXNet sees, or the CPU alone when it sees none."""
    return [mx.gpu(i) for i in range(mx.context.num_gpus())] or [mx.cpu()]
