def time_machine(batch_size=32, num_steps=35, root=None):
    """The Time Machine as characters: (X, Y) token-id sequences, Y shifted by one; 28 tokens (<unk>, space, a-z)."""
    text = re.sub("[^a-z]+", " ", download("timemachine.txt", root).read_text().lower())
    vocab = {c: i for i, c in enumerate(["<unk>", " ", *"abcdefghijklmnopqrstuvwxyz"])}
    corpus = paddle.to_tensor([vocab.get(c, 0) for c in text], dtype=paddle.int64)
    m = (len(corpus) - 1) // num_steps
    X = corpus[: m * num_steps].reshape([m, num_steps])
    Y = corpus[1 : m * num_steps + 1].reshape([m, num_steps])
    n = max(1, int(0.9 * m))
    train = paddle.io.TensorDataset([X[:n], Y[:n]])
    val = paddle.io.TensorDataset([X[n:], Y[n:]])
    return (paddle.io.DataLoader(train, batch_size=batch_size, shuffle=True),
            paddle.io.DataLoader(val, batch_size=batch_size))
