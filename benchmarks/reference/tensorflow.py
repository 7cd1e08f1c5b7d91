"""Hand-written TensorFlow reference for benchmarks/training.py: MLP, LeNet, GRU and Transformer on Fashion-MNIST.

Written the way TensorFlow's "advanced quickstart" trains a classifier: a `tf.keras.Model`
subclass on channels-last images, a `tf.data` pipeline, `tf.GradientTape` +
`optimizer.apply_gradients` inside a `@tf.function` train step, and `tf.keras.metrics` for the
running loss and accuracy, reset every epoch. The recurrent and Transformer models read an image's
rows as time steps, with Keras' `GRU`, `MultiHeadAttention` and `LayerNormalization` layers.

Standalone: python benchmarks/reference/tensorflow.py --model lenet --root ../data
"""
import argparse
import gzip
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script, this file would shadow the framework it is named after
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np
import tensorflow as tf
from tensorflow.keras import layers


class MLP(tf.keras.Model):
    def __init__(self, num_hiddens=256, num_outputs=10):
        super().__init__()
        self.flatten = layers.Flatten()
        self.hidden = layers.Dense(num_hiddens, activation="relu")
        self.out = layers.Dense(num_outputs)

    def call(self, x, training=False):
        return self.out(self.hidden(self.flatten(x)))


class LeNet(tf.keras.Model):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = layers.Conv2D(6, 5, padding="same", activation="sigmoid")
        self.pool1 = layers.AveragePooling2D(2, strides=2)
        self.conv2 = layers.Conv2D(16, 5, activation="sigmoid")
        self.pool2 = layers.AveragePooling2D(2, strides=2)
        self.flatten = layers.Flatten()
        self.fc1 = layers.Dense(120, activation="sigmoid")
        self.fc2 = layers.Dense(84, activation="sigmoid")
        self.fc3 = layers.Dense(num_classes)

    def call(self, x, training=False):
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv2(x))
        return self.fc3(self.fc2(self.fc1(self.flatten(x))))


class GRUClassifier(tf.keras.Model):
    def __init__(self, num_hiddens=64, num_classes=10):
        super().__init__()
        self.rows = layers.Reshape((28, 28))  # 28 time steps of 28 pixels
        self.gru = layers.GRU(num_hiddens)  # the last step's state
        self.fc = layers.Dense(num_classes)

    def call(self, x, training=False):
        return self.fc(self.gru(self.rows(x)))


class EncoderBlock(layers.Layer):
    def __init__(self, num_hiddens, ffn_num_hiddens, num_heads, dropout):
        super().__init__()
        self.attention = layers.MultiHeadAttention(num_heads, key_dim=num_hiddens // num_heads)
        self.ffn = tf.keras.Sequential([layers.Dense(ffn_num_hiddens, activation="relu"), layers.Dense(num_hiddens)])
        self.norm1 = layers.LayerNormalization(epsilon=1e-5)
        self.norm2 = layers.LayerNormalization(epsilon=1e-5)
        self.dropout1 = layers.Dropout(dropout)
        self.dropout2 = layers.Dropout(dropout)

    def call(self, x, training=False):
        x = self.norm1(x + self.dropout1(self.attention(x, x), training=training))
        return self.norm2(x + self.dropout2(self.ffn(x), training=training))


class Transformer(tf.keras.Model):
    def __init__(self, num_hiddens=32, ffn_num_hiddens=64, num_heads=4, dropout=0.1, num_classes=10):
        super().__init__()
        self.rows = layers.Reshape((28, 28))
        self.embed = layers.Dense(num_hiddens)
        self.positions = self.add_weight(shape=(28, num_hiddens),
                                         initializer=tf.keras.initializers.RandomNormal(stddev=0.02))
        self.encoder = EncoderBlock(num_hiddens, ffn_num_hiddens, num_heads, dropout)
        self.pool = layers.GlobalAveragePooling1D()
        self.fc = layers.Dense(num_classes)

    def call(self, x, training=False):
        h = self.embed(self.rows(x)) + self.positions
        return self.fc(self.pool(self.encoder(h, training=training)))


MODELS = {"mlp": MLP, "lenet": LeNet, "gru": GRUClassifier, "transformer": Transformer}


def load_fashion_mnist(root, batch_size):
    """tf.data pipelines over ROOT/fashion-mnist's IDX files: images [n, 28, 28, 1] in [0, 1]."""
    folder = Path(root) / "fashion-mnist"

    def arrays(split):
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz") as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz") as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)
        return (images / 255.0).astype(np.float32), labels.astype(np.int64)

    x_train, y_train = arrays("train")
    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(len(x_train)).batch(batch_size)
    val_ds = tf.data.Dataset.from_tensor_slices(arrays("t10k")).batch(batch_size)
    return train_ds, val_ds


def main(model="lenet", root="../data", batch_size=256, epochs=4, lr=0.1, device="cpu"):
    """DEVICE is where TensorFlow places ops by default (a visible GPU); nothing here moves data."""
    train_ds, val_ds = load_fashion_mnist(root, batch_size)
    net = MODELS[model]()
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.SGD(learning_rate=lr)
    train_loss = tf.keras.metrics.Mean()
    val_loss = tf.keras.metrics.Mean()
    val_accuracy = tf.keras.metrics.SparseCategoricalAccuracy()

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_object(labels, net(images, training=True))
        gradients = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(gradients, net.trainable_variables))
        train_loss.update_state(loss, sample_weight=tf.shape(labels)[0])

    @tf.function
    def val_step(images, labels):
        logits = net(images, training=False)
        val_loss.update_state(loss_object(labels, logits), sample_weight=tf.shape(labels)[0])
        val_accuracy.update_state(labels, logits)

    for epoch in range(epochs):
        for metric in (train_loss, val_loss, val_accuracy):
            metric.reset_state()
        for images, labels in train_ds:
            train_step(images, labels)
        for images, labels in val_ds:
            val_step(images, labels)
        print(f"epoch {epoch + 1}: train loss {float(train_loss.result()):.4f}, "
              f"val loss {float(val_loss.result()):.4f}, val acc {float(val_accuracy.result()):.4f}")
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
