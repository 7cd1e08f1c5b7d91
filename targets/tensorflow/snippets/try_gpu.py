def try_gpu(i=0):
    """The name of the i-th GPU if TensorFlow sees one, else the CPU's."""
    return f"/GPU:{i}" if len(tf.config.list_physical_devices("GPU")) > i else "/CPU:0"
