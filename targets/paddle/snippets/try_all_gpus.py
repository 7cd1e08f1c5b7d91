def try_all_gpus():
    """Every GPU Paddle sees, or the CPU alone when it sees none."""
    return [paddle.CUDAPlace(i) for i in range(paddle.device.cuda.device_count())] or [paddle.CPUPlace()]
