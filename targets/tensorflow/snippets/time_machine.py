def time_machine(batch_size=32, num_steps=35, root="../data"):
    """The Time Machine as characters: (X, Y) token-id sequences, Y shifted by one; 28 tokens (<unk>, space, a-z)."""
    text = re.sub("[^a-z]+", " ", (pathlib.Path(root) / "timemachine.txt").read_text().lower())
    vocab = ["<unk>", " "] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    corpus = tf.constant([vocab.index(c) if c in vocab else 0 for c in text], dtype=tf.int64)
    m = (len(corpus) - 1) // num_steps
    X = tf.reshape(corpus[: m * num_steps], (m, num_steps))
    Y = tf.reshape(corpus[1 : m * num_steps + 1], (m, num_steps))
    n = max(1, int(0.9 * m))
    train = tf.data.Dataset.from_tensor_slices((X[:n], Y[:n]))
    val = tf.data.Dataset.from_tensor_slices((X[n:], Y[n:]))
    return train.shuffle(n).batch(batch_size), val.batch(batch_size)
