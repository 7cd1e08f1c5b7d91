class AdagradEpsAfterSqrt(tf.keras.optimizers.Adagrad):
    """Adagrad as the book writes it: w -= lr g / (sqrt(s) + epsilon), s the sum of squared gradients from 0 (Keras'
    own adds epsilon to s under the root)."""

    def update_step(self, gradient, variable, learning_rate):
        lr, g = tf.cast(learning_rate, variable.dtype), tf.cast(gradient, variable.dtype)
        s = self._accumulators[self._get_variable_index(variable)]
        self.assign_add(s, tf.square(g))
        self.assign_sub(variable, lr * g / (tf.sqrt(s) + self.epsilon))
