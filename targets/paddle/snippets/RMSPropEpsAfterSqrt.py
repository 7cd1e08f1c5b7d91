class RMSPropEpsAfterSqrt(paddle.optimizer.RMSProp):
    """RMSProp as the book writes it: w -= lr g / (sqrt(v) + epsilon) (Paddle's own adds epsilon to v under the root)."""

    def _append_optimize_op(self, block, param_and_grad):
        w, g = param_and_grad
        v = self._get_accumulator_master(self._mean_square_acc_str, w)
        paddle.assign(self._rho * v + (1 - self._rho) * g * g, v)
        paddle.assign(w - self.get_lr() * g / (v.sqrt() + self._epsilon), w)
