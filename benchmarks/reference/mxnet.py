"""Hand-written MXNet reference for benchmarks/training.py: MLP and LeNet on Fashion-MNIST.

Written the way the Gluon crash course trains a classifier (MXNet 1.9, NumPy interface): `nn.Block`
subclasses with deferred shape inference, `initialize()`, a `gluon.data.DataLoader` over an
`ArrayDataset`, `gluon.Trainer`, and `autograd.record()` + `backward()` + `trainer.step()`. Running
sums stay on the device and are read once per epoch.

Standalone: .venv-mxnet/bin/python benchmarks/reference/mxnet.py --model lenet --root ../data
"""
import argparse
import gzip
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script, this file would shadow the framework it is named after
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as onp
from mxnet import autograd, gluon, init, np, npx
from mxnet.gluon import nn

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


MODELS = {"mlp": MLP, "lenet": LeNet}


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


def main(model="lenet", root="../data", batch_size=256, epochs=4, lr=0.1):
    train_data, val_data = load_fashion_mnist(root, batch_size)
    net = MODELS[model]()
    net.initialize(init.Xavier())
    loss_fn = gluon.loss.SoftmaxCrossEntropyLoss()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": lr})
    for epoch in range(epochs):
        train_loss, seen = np.zeros(()), 0
        for data, label in train_data:
            with autograd.record():
                loss = loss_fn(net(data), label)
            loss.backward()
            trainer.step(data.shape[0])
            train_loss += loss.sum()
            seen += data.shape[0]
        val_loss, correct, val_seen = np.zeros(()), np.zeros(()), 0
        for data, label in val_data:
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
    a = ap.parse_args()
    main(a.model, a.root, a.batch_size, a.epochs, a.lr)
