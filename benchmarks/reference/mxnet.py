"""Hand-written MXNet reference for benchmarks/training.py: MLP, LeNet, GRU and Transformer on Fashion-MNIST.

Written the way the Gluon crash course trains a classifier (MXNet 1.9, NumPy interface): `nn.Block`
subclasses with deferred shape inference, `initialize()`, a `gluon.data.DataLoader` over an
`ArrayDataset`, `gluon.Trainer`, and `autograd.record()` + `backward()` + `trainer.step()`. Running
sums stay on the device and are read once per epoch. The recurrent and Transformer models read an
image's rows as time steps: `rnn.GRU` with the NTC layout, and (gluon has no attention layer)
multi-head self-attention written with `Dense(flatten=False)` projections and batched matmuls.

Standalone: .venv-mxnet/bin/python benchmarks/reference/mxnet.py --model lenet --root ../data
"""
import argparse
import gzip
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script, this file would shadow the framework it is named after
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as onp
import mxnet as mx
from mxnet import autograd, gluon, init, np, npx
from mxnet.gluon import nn, rnn

npx.set_np()


class MLP(nn.Block):
    def __init__(self, num_hiddens=256, num_outputs=10, **kwargs):
        super().__init__(**kwargs)
        self.hidden = nn.Dense(num_hiddens, activation="relu")  # Dense flattens [n, 1, 28, 28] itself
        self.output = nn.Dense(num_outputs)

    def forward(self, x):
        return self.output(self.hidden(x))


class LeNet(nn.Block):
    def __init__(self, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = nn.Conv2D(6, kernel_size=5, padding=2, activation="sigmoid")
        self.pool1 = nn.AvgPool2D(pool_size=2, strides=2)
        self.conv2 = nn.Conv2D(16, kernel_size=5, activation="sigmoid")
        self.pool2 = nn.AvgPool2D(pool_size=2, strides=2)
        self.fc1 = nn.Dense(120, activation="sigmoid")
        self.fc2 = nn.Dense(84, activation="sigmoid")
        self.fc3 = nn.Dense(num_classes)

    def forward(self, x):
        x = self.pool1(self.conv1(x))
        x = self.pool2(self.conv2(x))
        return self.fc3(self.fc2(self.fc1(x)))


class GRUClassifier(nn.Block):
    def __init__(self, num_hiddens=64, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.gru = rnn.GRU(num_hiddens, layout="NTC")
        self.fc = nn.Dense(num_classes)

    def forward(self, x):
        states = self.gru(x.reshape(-1, 28, 28))  # 28 rows as time steps
        return self.fc(states[:, -1])


class SelfAttention(nn.Block):
    def __init__(self, num_hiddens, num_heads, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.query, self.key, self.value, self.out = (nn.Dense(num_hiddens, flatten=False, use_bias=False)
                                                      for _ in range(4))

    def split_heads(self, x):  # [n, t, d] -> [n, heads, t, d / heads]
        return x.reshape(x.shape[0], x.shape[1], self.num_heads, -1).transpose(0, 2, 1, 3)

    def forward(self, x):
        q, k, v = (self.split_heads(layer(x)) for layer in (self.query, self.key, self.value))
        weights = npx.softmax(np.matmul(q, k.transpose(0, 1, 3, 2)) / q.shape[-1] ** 0.5, axis=-1)
        heads = np.matmul(weights, v).transpose(0, 2, 1, 3)
        return self.out(heads.reshape(heads.shape[0], heads.shape[1], -1))


class Transformer(nn.Block):
    def __init__(self, num_hiddens=32, ffn_num_hiddens=64, num_heads=4, dropout=0.1, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.embed = nn.Dense(num_hiddens, flatten=False)
        self.positions = self.params.get("positions", shape=(28, num_hiddens), init=init.Normal(0.02))
        self.attention = SelfAttention(num_hiddens, num_heads)
        self.ffn = nn.Sequential()
        self.ffn.add(nn.Dense(ffn_num_hiddens, flatten=False, activation="relu"), nn.Dense(num_hiddens, flatten=False))
        self.norm1, self.norm2 = nn.LayerNorm(epsilon=1e-5), nn.LayerNorm(epsilon=1e-5)
        self.dropout1, self.dropout2 = nn.Dropout(dropout), nn.Dropout(dropout)
        self.fc = nn.Dense(num_classes)

    def forward(self, x):
        h = self.embed(x.reshape(-1, 28, 28)) + self.positions.data(x.ctx)
        h = self.norm1(h + self.dropout1(self.attention(h)))
        h = self.norm2(h + self.dropout2(self.ffn(h)))
        return self.fc(h.mean(axis=1))


MODELS = {"mlp": MLP, "lenet": LeNet, "gru": GRUClassifier, "transformer": Transformer}


def load_fashion_mnist(root, batch_size):
    """DataLoaders over ROOT/fashion-mnist's IDX files: images [n, 1, 28, 28] in [0, 1]."""
    folder = Path(root) / "fashion-mnist"

    def dataset(split):
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz") as f:
            images = onp.frombuffer(f.read(), onp.uint8, offset=16).reshape(-1, 1, 28, 28)
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz") as f:
            labels = onp.frombuffer(f.read(), onp.uint8, offset=8)
        return gluon.data.ArrayDataset(np.array(images / 255.0, dtype="float32"), np.array(labels, dtype="int64"))

    return (gluon.data.DataLoader(dataset("train"), batch_size, shuffle=True),
            gluon.data.DataLoader(dataset("t10k"), batch_size))


def main(model="lenet", root="../data", batch_size=256, epochs=4, lr=0.1, device="cpu"):
    ctx = mx.gpu() if device == "gpu" else mx.cpu()
    train_data, val_data = load_fashion_mnist(root, batch_size)
    net = MODELS[model]()
    net.initialize(init.Xavier(), ctx=ctx)
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    for epoch in range(epochs):
        train_loss, seen = np.zeros((), ctx=ctx), 0
        for data, label in train_data:
            data, label = data.as_in_context(ctx), label.as_in_context(ctx)
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(data.shape[0])
            train_loss += loss.sum()
            seen += data.shape[0]
        val_loss, correct, val_seen = np.zeros((), ctx=ctx), np.zeros((), ctx=ctx), 0
        for data, label in val_data:
            data, label = data.as_in_context(ctx), label.as_in_context(ctx)
            output = net(data)
            val_loss += loss_fn(output, label).sum()
            correct += (output.argmax(axis=1) == label).sum()
            val_seen += data.shape[0]
        print(f"epoch {epoch + 1}: train loss {float(train_loss) / seen:.4f}, "
              f"val loss {float(val_loss) / val_seen:.4f}, val acc {float(correct) / val_seen:.4f}")
    return net


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=sorted(MODELS), default="lenet")
    ap.add_argument("--root", default="../data")
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    a = ap.parse_args()
    main(a.model, a.root, a.batch_size, a.epochs, a.lr, a.device)
