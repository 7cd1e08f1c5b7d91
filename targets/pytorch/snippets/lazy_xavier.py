def lazy_xavier(layer):
    """A lazy layer (nn.LazyLinear, nn.LazyConv2d) that starts from Glorot-uniform weights and zero biases, as the
    layers built with their input size do: on its first call, before PyTorch's own pre-hook, it makes its
    parameters (PyTorch's own pre-hook then finds them made) and initialises them."""

    def initialize(module, args):
        # on the first call only: the parameters are not made yet
        if isinstance(module.weight, nn.UninitializedParameter):
            module.initialize_parameters(*args)
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    layer.register_forward_pre_hook(initialize, prepend=True)
    return layer
