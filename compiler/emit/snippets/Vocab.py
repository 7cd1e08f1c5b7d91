class Vocab:
    """Numbers the distinct tokens of a list: index 0 is `<unk>` (any token it does not hold), then the reserved
    tokens, then every other token seen at least min_freq times, in alphabetical order. A list of lists of tokens
    (one list a sentence) counts the tokens of all of them."""

    def __init__(self, tokens, min_freq=0, reserved_tokens=None):
        if tokens and isinstance(tokens[0], list):
            tokens = [token for line in tokens for token in line]
        counts = collections.Counter(tokens)
        # (token, count) pairs, the most frequent first, ties in alphabetical order
        self.token_freqs = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        special = ["<unk>", *(reserved_tokens or [])]
        kept = sorted(t for t, count in counts.items() if count >= min_freq and t not in special)
        self.idx_to_token = special + kept
        self.token_to_idx = {token: index for index, token in enumerate(self.idx_to_token)}
        self.unk = 0

    def __repr__(self):
        return f"Vocab({len(self)} tokens)"

    def __len__(self):
        return len(self.idx_to_token)

    def __getitem__(self, tokens):
        """The index of a token, or the list of indices of a list of tokens."""
        if isinstance(tokens, (list, tuple)):
            return [self.token_to_idx.get(token, self.unk) for token in tokens]
        return self.token_to_idx.get(tokens, self.unk)

    def to_tokens(self, indices):
        """The token at an index, or the list of tokens at a list of indices."""
        if isinstance(indices, (list, tuple)):
            return [self.idx_to_token[index] for index in indices]
        return self.idx_to_token[indices]
