def time_machine(batch_size=32, num_steps=35, root=None):
    """The Time Machine as characters: (X, Y) token-id sequences, Y shifted by one; 28 tokens (<unk>, space, a-z)."""
    text = re.sub("[^a-z]+", " ", download("timemachine.txt", root).read_text().lower())
    vocab = {c: i for i, c in enumerate(["<unk>", " ", *"abcdefghijklmnopqrstuvwxyz"])}
    corpus = torch.tensor([vocab.get(c, 0) for c in text])
    m = (len(corpus) - 1) // num_steps
    X = corpus[: m * num_steps].reshape(m, num_steps)
    Y = corpus[1 : m * num_steps + 1].reshape(m, num_steps)
    n = max(1, int(0.9 * m))
    train = torch.utils.data.TensorDataset(X[:n], Y[:n])
    val = torch.utils.data.TensorDataset(X[n:], Y[n:])
    return (torch.utils.data.DataLoader(train, batch_size, shuffle=True),
            torch.utils.data.DataLoader(val, batch_size))
