def time_machine(batch_size=32, num_steps=35, root=None):
    """The Time Machine as characters: (X, Y) token-id sequences, Y shifted by one; 28 tokens (<unk>, space, a-z)."""
    text = re.sub("[^a-z]+", " ", download("timemachine.txt", root).read_text().lower())
    vocab = {c: i for i, c in enumerate(["<unk>", " ", *"abcdefghijklmnopqrstuvwxyz"])}
    corpus = np.array([vocab.get(c, 0) for c in text], dtype=np.int64)
    m = (len(corpus) - 1) // num_steps
    X = corpus[: m * num_steps].reshape(m, num_steps)
    Y = corpus[1 : m * num_steps + 1].reshape(m, num_steps)
    n = max(1, int(0.9 * m))
    train = gluon.data.ArrayDataset(X[:n], Y[:n])
    val = gluon.data.ArrayDataset(X[n:], Y[n:])
    return gluon.data.DataLoader(train, batch_size, shuffle=True), gluon.data.DataLoader(val, batch_size)
