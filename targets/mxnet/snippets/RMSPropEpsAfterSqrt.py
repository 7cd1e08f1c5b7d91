@mx.optimizer.register
class RMSPropEpsAfterSqrt(mx.optimizer.RMSProp):
    """RMSProp as the book writes it: w -= lr g / (sqrt(v) + epsilon) (gluon's own adds epsilon to v under the root)."""

    def update(self, index, weight, grad, state):
        self._update_count(index)
        g = grad * self.rescale_grad + self._get_wd(index) * weight
        (v,) = state
        v[:] = self.gamma1 * v + (1 - self.gamma1) * g * g
        weight[:] -= self._get_lr(index) * g / (v**0.5 + self.epsilon)
