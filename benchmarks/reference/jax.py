"""Hand-written JAX reference for benchmarks/training.py: MLP, LeNet, GRU and Transformer on Fashion-MNIST.

Written the way Flax's own examples train a classifier: `flax.linen` modules with `@nn.compact`
on channels-last images, an optax optimizer held in a `TrainState`, a `jax.jit`-compiled train
step (loss and gradients with `jax.value_and_grad`, then `apply_gradients`), a jitted eval step,
and minibatches cut from NumPy arrays by a fresh permutation every epoch. Per-step losses stay on
the device and are averaged once per epoch. The recurrent and Transformer models read an image's
rows as time steps, with Flax's `nn.RNN(nn.GRUCell)` and `nn.MultiHeadDotProductAttention`; dropout
draws from a key split off for every step.

Standalone: python benchmarks/reference/jax.py --model lenet --root ../data
"""
import argparse
import gzip
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script, this file would shadow the framework it is named after
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import linen as nn
from flax.training import train_state


class MLP(nn.Module):
    num_hiddens: int = 256
    num_outputs: int = 10

    @nn.compact
    def __call__(self, x, training=False):
        x = x.reshape((x.shape[0], -1))
        x = nn.relu(nn.Dense(self.num_hiddens)(x))
        return nn.Dense(self.num_outputs)(x)


class LeNet(nn.Module):
    num_classes: int = 10

    @nn.compact
    def __call__(self, x, training=False):
        x = nn.sigmoid(nn.Conv(6, kernel_size=(5, 5), padding="SAME")(x))
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = nn.sigmoid(nn.Conv(16, kernel_size=(5, 5), padding="VALID")(x))
        x = nn.avg_pool(x, window_shape=(2, 2), strides=(2, 2))
        x = x.reshape((x.shape[0], -1))
        x = nn.sigmoid(nn.Dense(120)(x))
        x = nn.sigmoid(nn.Dense(84)(x))
        return nn.Dense(self.num_classes)(x)


class GRUClassifier(nn.Module):
    num_hiddens: int = 64
    num_classes: int = 10

    @nn.compact
    def __call__(self, x, training=False):
        states = nn.RNN(nn.GRUCell(self.num_hiddens))(x.reshape((x.shape[0], 28, 28)))  # rows as time steps
        return nn.Dense(self.num_classes)(states[:, -1])


class EncoderBlock(nn.Module):
    num_hiddens: int
    ffn_num_hiddens: int
    num_heads: int
    dropout: float

    @nn.compact
    def __call__(self, x, training=False):
        y = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, qkv_features=self.num_hiddens)(x, x)
        x = nn.LayerNorm(epsilon=1e-5)(x + nn.Dropout(self.dropout, deterministic=not training)(y))
        y = nn.Dense(self.num_hiddens)(nn.relu(nn.Dense(self.ffn_num_hiddens)(x)))
        return nn.LayerNorm(epsilon=1e-5)(x + nn.Dropout(self.dropout, deterministic=not training)(y))


class Transformer(nn.Module):
    num_hiddens: int = 32
    ffn_num_hiddens: int = 64
    num_heads: int = 4
    dropout: float = 0.1
    num_classes: int = 10

    @nn.compact
    def __call__(self, x, training=False):
        positions = self.param("positions", nn.initializers.normal(0.02), (28, self.num_hiddens))
        h = nn.Dense(self.num_hiddens)(x.reshape((x.shape[0], 28, 28))) + positions
        h = EncoderBlock(self.num_hiddens, self.ffn_num_hiddens, self.num_heads, self.dropout)(h, training)
        return nn.Dense(self.num_classes)(h.mean(axis=1))


MODELS = {"mlp": MLP, "lenet": LeNet, "gru": GRUClassifier, "transformer": Transformer}


def load_fashion_mnist(root):
    """NumPy arrays from ROOT/fashion-mnist's IDX files: images [n, 28, 28, 1] in [0, 1]."""
    folder = Path(root) / "fashion-mnist"

    def arrays(split):
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz") as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28, 1)
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz") as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)
        return (images / 255.0).astype(np.float32), labels.astype(np.int32)

    return arrays("train"), arrays("t10k")


def cross_entropy(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@jax.jit
def train_step(state, images, labels, dropout_key):
    def loss_fn(params):
        logits = state.apply_fn({"params": params}, images, training=True, rngs={"dropout": dropout_key})
        return cross_entropy(logits, labels)

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads), loss


@jax.jit
def eval_step(state, images, labels):
    logits = state.apply_fn({"params": state.params}, images)
    return cross_entropy(logits, labels), (logits.argmax(-1) == labels).sum()


def main(model="lenet", root="../data", batch_size=256, epochs=4, lr=0.1, device="cpu", seed=0):
    """DEVICE is where JAX places arrays by default (a visible GPU); nothing here moves data."""
    (x_train, y_train), (x_val, y_val) = load_fashion_mnist(root)
    rng = np.random.default_rng(seed)
    net = MODELS[model]()
    init_key, dropout_key = jax.random.split(jax.random.key(seed))
    params = net.init(init_key, jnp.ones((1, 28, 28, 1)))["params"]
    state = train_state.TrainState.create(apply_fn=net.apply, params=params, tx=optax.sgd(lr))
    for epoch in range(epochs):
        perm = rng.permutation(len(x_train))
        losses, sizes = [], []
        for i in range(0, len(perm), batch_size):
            idx = perm[i:i + batch_size]
            dropout_key, step_key = jax.random.split(dropout_key)
            state, loss = train_step(state, x_train[idx], y_train[idx], step_key)
            losses.append(loss)
            sizes.append(len(idx))
        train_loss = float(jnp.dot(jnp.stack(losses), jnp.array(sizes, jnp.float32))) / len(perm)
        val_loss, correct = 0.0, 0
        for i in range(0, len(x_val), batch_size):
            loss, right = eval_step(state, x_val[i:i + batch_size], y_val[i:i + batch_size])
            val_loss += float(loss) * len(y_val[i:i + batch_size])
            correct += int(right)
        print(f"epoch {epoch + 1}: train loss {train_loss:.4f}, "
              f"val loss {val_loss / len(x_val):.4f}, val acc {correct / len(x_val):.4f}")
    return state


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(MODELS), default="lenet")
    ap.add_argument("--root", default="../data")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=0.1)
    a = ap.parse_args()
    main(a.model, a.root, a.batch_size, a.epochs, a.lr)
