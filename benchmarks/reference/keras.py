"""Keras 3 reference for benchmarks/training.py: MLP, LeNet, GRU and Transformer trained with `fit`.

Written the way the Keras guides train a classifier: models built with the functional API on
channels-last images, `compile` with an optimizer, a sparse categorical cross-entropy on logits and
an accuracy metric, then `model.fit` on NumPy arrays with `validation_data`, so Keras makes the
batches, compiles the train and test steps and evaluates after every epoch. The backend is
whatever KERAS_BACKEND names (the benchmark runs it with "tensorflow" and with "jax"). A callback
prints one `epoch N: ...` line at the end of each epoch, after validation, for the benchmark's clock.

Standalone: KERAS_BACKEND=jax python benchmarks/reference/keras.py --model lenet --root ../data
"""
import argparse
import gzip
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script, this file would shadow the framework it is named after
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import keras
import numpy as np
from keras import layers


def mlp(num_hiddens=256, num_outputs=10):
    inputs = keras.Input((28, 28, 1))
    x = layers.Dense(num_hiddens, activation="relu")(layers.Flatten()(inputs))
    return keras.Model(inputs, layers.Dense(num_outputs)(x))


def lenet(num_classes=10):
    return keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Conv2D(6, 5, padding="same", activation="sigmoid"),
        layers.AveragePooling2D(2, strides=2),
        layers.Conv2D(16, 5, activation="sigmoid"),
        layers.AveragePooling2D(2, strides=2),
        layers.Flatten(),
        layers.Dense(120, activation="sigmoid"),
        layers.Dense(84, activation="sigmoid"),
        layers.Dense(num_classes),
    ])


def gru(num_hiddens=64, num_classes=10):
    inputs = keras.Input((28, 28, 1))
    state = layers.GRU(num_hiddens)(layers.Reshape((28, 28))(inputs))  # rows as time steps; the last state
    return keras.Model(inputs, layers.Dense(num_classes)(state))


class AddPositions(layers.Layer):
    """A learned vector per time step, added to the step's features."""

    def build(self, input_shape):
        self.positions = self.add_weight(shape=input_shape[1:], initializer=keras.initializers.RandomNormal(stddev=0.02))

    def call(self, x):
        return x + self.positions


def transformer(num_hiddens=32, ffn_num_hiddens=64, num_heads=4, dropout=0.1, num_classes=10):
    inputs = keras.Input((28, 28, 1))
    h = AddPositions()(layers.Dense(num_hiddens)(layers.Reshape((28, 28))(inputs)))
    attended = layers.MultiHeadAttention(num_heads, key_dim=num_hiddens // num_heads)(h, h)
    h = layers.LayerNormalization(epsilon=1e-5)(h + layers.Dropout(dropout)(attended))
    ffn = layers.Dense(num_hiddens)(layers.Dense(ffn_num_hiddens, activation="relu")(h))
    h = layers.LayerNormalization(epsilon=1e-5)(h + layers.Dropout(dropout)(ffn))
    return keras.Model(inputs, layers.Dense(num_classes)(layers.GlobalAveragePooling1D()(h)))


MODELS = {"mlp": mlp, "lenet": lenet, "gru": gru, "transformer": transformer}


def load_fashion_mnist(root):
    """NumPy arrays from ROOT/fashion-mnist's IDX files: images [n, 28, 28, 1] in [0, 1]."""
    folder = Path(root) / "fashion-mnist"

    def arrays(split):
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz") as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz") as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)
        return (images / 255.0).astype(np.float32), labels.astype(np.int64)

    return arrays("train"), arrays("t10k")


def main(model="lenet", root="../data", batch_size=256, epochs=4, lr=0.1, device="cpu"):
    """DEVICE is where the backend places its work by default (a visible GPU); Keras moves the data."""
    (x_train, y_train), (x_val, y_val) = load_fashion_mnist(root)
    net = MODELS[model]()
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=lr),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    report = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: print(
        f"epoch {epoch + 1}: train loss {logs['loss']:.4f}, val loss {logs['val_loss']:.4f}, "
        f"val acc {logs['val_accuracy']:.4f}"))
    net.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_data=(x_val, y_val),
            callbacks=[report], verbose=0)
    return net


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(MODELS), default="lenet")
    ap.add_argument("--root", default="../data")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=0.1)
    a = ap.parse_args()
    main(a.model, a.root, a.batch_size, a.epochs, a.lr)
