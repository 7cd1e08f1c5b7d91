def to_device(x, device):
    """A copy of x on the device (a name such as "/GPU:0")."""
    with tf.device(device):
        return tf.identity(x)
