def try_gpu(i=0):
    """The i-th GPU if Paddle sees one, else the CPU."""
    return paddle.CUDAPlace(i) if paddle.device.cuda.device_count() > i else paddle.CPUPlace()
