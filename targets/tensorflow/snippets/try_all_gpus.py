def try_all_gpus():
    """The names of every GPU TensorFlow sees, or the CPU's alone when it sees none."""
    return [f"/GPU:{i}" for i in range(len(tf.config.list_physical_devices("GPU")))] or ["/CPU:0"]
