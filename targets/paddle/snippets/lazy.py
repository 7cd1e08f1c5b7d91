class Lazy(nn.Layer):
    """A layer built on its first call, once its input size is known (Paddle's layers need it up front)."""

    def __init__(self, make, axis):
        super().__init__()
        self.make, self.axis, self.layer = make, axis, None

    def forward(self, X):
        if self.layer is None:
            self.layer = self.make(X.shape[self.axis])
        return self.layer(X)
