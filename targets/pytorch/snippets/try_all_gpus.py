def try_all_gpus():
    """Every GPU PyTorch sees, or the CPU alone when it sees none."""
    return [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())] or [torch.device("cpu")]
