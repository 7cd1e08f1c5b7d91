def time_machine(batch_size=32, num_steps=35, root=None):
    """The Time Machine as characters: (X, Y) token-id sequences, Y shifted by one; 28 tokens (<unk>, space, a-z)."""
    text = re.sub("[^a-z]+", " ", download("timemachine.txt", root).read_text().lower())
    vocab = {c: i for i, c in enumerate(["<unk>", " ", *"abcdefghijklmnopqrstuvwxyz"])}
    corpus = tf.constant([vocab.get(c, 0) for c in text], dtype=tf.int64)
    m = (len(corpus) - 1) // num_steps
    X = tf.reshape(corpus[: m * num_steps], (m, num_steps))
    Y = tf.reshape(corpus[1 : m * num_steps + 1], (m, num_steps))
    n = max(1, int(0.9 * m))
    train = tf.data.Dataset.from_tensor_slices((X[:n], Y[:n]))
    val = tf.data.Dataset.from_tensor_slices((X[n:], Y[n:]))
    # prefetch: the next batches are made while the model trains on this one
    return train.shuffle(n).batch(batch_size).prefetch(tf.data.AUTOTUNE), val.batch(batch_size).prefetch(tf.data.AUTOTUNE)
