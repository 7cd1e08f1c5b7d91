def try_gpu(i=0):
    """The i-th GPU if PyTorch sees one, else the CPU."""
    return torch.device(f"cuda:{i}") if torch.cuda.device_count() > i else torch.device("cpu")
