class UniformRange(init.Initializer):
    """Uniform draws from [low, high) (gluon's init.Uniform is symmetric around zero)."""

    def __init__(self, low, high):
        super().__init__(low=low, high=high)
        self.low, self.high = low, high

    def _init_weight(self, name, data):
        data[:] = np.random.uniform(self.low, self.high, data.shape)
