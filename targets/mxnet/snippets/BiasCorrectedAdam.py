@mx.optimizer.register
class BiasCorrectedAdam(mx.optimizer.Adam):
    """Adam as the book writes it: w -= lr m_hat / (sqrt(v_hat) + epsilon), epsilon added to the bias-corrected
    root (gluon's own Adam adds it to sqrt(v) and corrects the learning rate instead, a different step once v is
    about epsilon squared). `wd` adds wd * w to the gradient, as PyTorch's Adam."""

    def update(self, index, weight, grad, state):
        self._update_count(index)
        t = self._index_update_count[index]
        g = grad * self.rescale_grad + self._get_wd(index) * weight
        m, v = state
        m[:] = self.beta1 * m + (1 - self.beta1) * g
        v[:] = self.beta2 * v + (1 - self.beta2) * g * g
        m_hat, v_hat = m / (1 - self.beta1**t), v / (1 - self.beta2**t)
        weight[:] -= self._get_lr(index) * m_hat / (v_hat**0.5 + self.epsilon)
