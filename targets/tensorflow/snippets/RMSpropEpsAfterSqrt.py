class RMSpropEpsAfterSqrt(tf.keras.optimizers.RMSprop):
    """RMSprop as the book writes it: w -= lr g / (sqrt(v) + epsilon) (Keras' own adds epsilon to v under the root)."""

    def update_step(self, gradient, variable, learning_rate):
        lr, g = tf.cast(learning_rate, variable.dtype), tf.cast(gradient, variable.dtype)
        v = self._velocities[self._get_variable_index(variable)]
        self.assign(v, self.rho * v + (1 - self.rho) * tf.square(g))
        self.assign_sub(variable, lr * g / (tf.sqrt(v) + self.epsilon))
