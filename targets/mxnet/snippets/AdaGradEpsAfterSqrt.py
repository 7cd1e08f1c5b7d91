@mx.optimizer.register
class AdaGradEpsAfterSqrt(mx.optimizer.AdaGrad):
    """AdaGrad as the book writes it: w -= lr g / (sqrt(s) + eps), s the sum of squared gradients from 0 (gluon's own
    adds eps to s under the root)."""

    def update(self, index, weight, grad, state):
        self._update_count(index)
        g = grad * self.rescale_grad + self._get_wd(index) * weight
        state[:] += g * g
        weight[:] -= self._get_lr(index) * g / (state**0.5 + self.float_stable_eps)
