class BiasCorrectedAdam(tf.keras.optimizers.Adam):
    """Adam as the book writes it: w -= lr m_hat / (sqrt(v_hat) + epsilon), epsilon added to the bias-corrected
    root (Keras' own Adam adds it to sqrt(v) and corrects the learning rate instead, a different step once v is
    about epsilon squared)."""

    def update_step(self, gradient, variable, learning_rate):
        lr, g = tf.cast(learning_rate, variable.dtype), tf.cast(gradient, variable.dtype)
        t = tf.cast(self.iterations + 1, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, (g - m) * (1 - self.beta_1))
        self.assign_add(v, (tf.square(g) - v) * (1 - self.beta_2))
        m_hat = m / (1 - tf.pow(tf.cast(self.beta_1, variable.dtype), t))
        v_hat = v / (1 - tf.pow(tf.cast(self.beta_2, variable.dtype), t))
        self.assign_sub(variable, lr * m_hat / (tf.sqrt(v_hat) + self.epsilon))


class BiasCorrectedAdamW(tf.keras.optimizers.AdamW):
    """AdamW with the same step: Keras decays the weights (w -= lr weight_decay w) before `update_step`."""

    update_step = BiasCorrectedAdam.update_step
