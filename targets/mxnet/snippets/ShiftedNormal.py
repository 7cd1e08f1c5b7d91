class ShiftedNormal(init.Initializer):
    """Gaussian draws around `mean` (gluon's init.Normal is centred at zero)."""

    def __init__(self, mean, sigma):
        super().__init__(mean=mean, sigma=sigma)
        self.mean, self.sigma = mean, sigma

    def _init_weight(self, name, data):
        data[:] = np.random.normal(self.mean, self.sigma, data.shape)
