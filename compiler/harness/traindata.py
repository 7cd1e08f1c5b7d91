"""The data of the same training run (harness/sametrain.py): drawn once in NumPy, in the canonical layout, so that
every target trains on the same examples in the same order."""
from __future__ import annotations

import numpy as np

EPOCHS = 2
BATCH = 32  # minibatch size of every run (the chapters' own are for full data sets)
TRAIN_BATCHES = 6  # minibatches per epoch: 192 training examples
VAL_EXAMPLES = 64
SEQ_LEN = 16  # time steps of a token sequence whose length the model leaves open (book.toml's small num_steps)


def draw_data(shape: tuple[int, ...], tokens: bool, loss: str, out_shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, ...]:
    """(X, y, Xv, yv) in the canonical layout: EPOCHS seeded permutations of the training examples one after another
    (the same minibatches for every target), and a validation set. Labels come from a fixed random teacher, so that
    the runs learn something: a linear map's argmax (classes), its value (squared loss), or, for a language model,
    the next token of a seeded Markov chain. `shape`: one example's; `tokens`: int inputs; `loss`: the chapter's
    (the model harness compares per-step scores under squared loss); `out_shape`: the model's scores for a batch."""
    rng = np.random.default_rng(seed + 11)
    n = BATCH * TRAIN_BATCHES + VAL_EXAMPLES
    if tokens and loss == "cross_entropy" and len(out_shape) == 3:  # next-token prediction
        vocab = out_shape[-1]
        chain = np.exp(3 * rng.normal(size=(vocab, vocab)))
        chain /= chain.sum(axis=1, keepdims=True)
        tokens = [int(rng.integers(vocab))]
        for _ in range(n + shape[0]):
            tokens.append(int(rng.choice(vocab, p=chain[tokens[-1]])))
        stream = np.asarray(tokens, np.int64)
        starts = rng.integers(0, len(stream) - shape[0] - 1, size=n)
        X = np.stack([stream[s:s + shape[0]] for s in starts])
        y = np.stack([stream[s + 1:s + shape[0] + 1] for s in starts])
    else:
        X = rng.integers(0, 5, size=(n, *shape)).astype(np.int64) if tokens else \
            rng.normal(size=(n, *shape)).astype(np.float32)
        flat = X.reshape(n, -1).astype(np.float32)
        if loss == "cross_entropy":
            classes = out_shape[-1]
            teacher = rng.normal(size=(flat.shape[1], classes)).astype(np.float32)
            y = np.argmax(flat @ teacher, axis=1).astype(np.int64)
            if len(out_shape) > 2:  # one label per step
                y = np.repeat(y[:, None], out_shape[1], axis=1)
        else:
            width = int(np.prod(out_shape[1:]))
            teacher = rng.normal(size=(flat.shape[1], width)).astype(np.float32) / np.sqrt(flat.shape[1])
            y = (flat @ teacher + 0.01 * rng.normal(size=(n, width))).astype(np.float32).reshape(n, *out_shape[1:])
    train, val = np.arange(n - VAL_EXAMPLES), np.arange(n - VAL_EXAMPLES, n)
    order = np.concatenate([rng.permutation(train) for _ in range(EPOCHS)])
    return (np.ascontiguousarray(X[order]), np.ascontiguousarray(y[order]), X[val], y[val])
