"""Hand-written PyTorch reference for benchmarks/training.py: MLP, LeNet, GRU and Transformer on Fashion-MNIST.

Written the way PyTorch's own tutorials train a classifier: `nn.Module` classes with explicit
input sizes, a `DataLoader` over a `TensorDataset`, `torch.optim.SGD`, and a train loop followed by
a validation loop under `torch.no_grad()` each epoch. The recurrent and Transformer models read an
image's rows as time steps, with the library's `nn.GRU` and `nn.TransformerEncoderLayer`.

Standalone: python benchmarks/reference/pytorch.py --model lenet --root ../data
"""
import argparse
import gzip
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


class MLP(nn.Module):
    def __init__(self, num_hiddens=256, num_outputs=10):
        super().__init__()
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(
            nn.Linear(28 * 28, num_hiddens),
            nn.ReLU(),
            nn.Linear(num_hiddens, num_outputs),
        )

    def forward(self, x):
        return self.layers(self.flatten(x))


class LeNet(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
            nn.Linear(120, 84), nn.Sigmoid(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class GRUClassifier(nn.Module):
    def __init__(self, num_hiddens=64, num_classes=10):
        super().__init__()
        self.gru = nn.GRU(28, num_hiddens, batch_first=True)
        self.fc = nn.Linear(num_hiddens, num_classes)

    def forward(self, x):
        outputs, _ = self.gru(x.squeeze(1))  # [n, 28 rows, 28 pixels] -> a state per row
        return self.fc(outputs[:, -1])


class Transformer(nn.Module):
    def __init__(self, num_hiddens=32, ffn_num_hiddens=64, num_heads=4, dropout=0.1, num_classes=10):
        super().__init__()
        self.embed = nn.Linear(28, num_hiddens)
        self.pos_embedding = nn.Parameter(0.02 * torch.randn(28, num_hiddens))
        self.encoder = nn.TransformerEncoderLayer(num_hiddens, num_heads, ffn_num_hiddens, dropout, batch_first=True)
        self.fc = nn.Linear(num_hiddens, num_classes)

    def forward(self, x):
        h = self.encoder(self.embed(x.squeeze(1)) + self.pos_embedding)
        return self.fc(h.mean(dim=1))


MODELS = {"mlp": MLP, "lenet": LeNet, "gru": GRUClassifier, "transformer": Transformer}


def load_fashion_mnist(root, batch_size):
    """DataLoaders over ROOT/fashion-mnist's IDX files: images [n, 1, 28, 28] in [0, 1]."""
    folder = Path(root) / "fashion-mnist"

    def dataset(split):
        with gzip.open(folder / f"{split}-images-idx3-ubyte.gz") as f:
            images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
        with gzip.open(folder / f"{split}-labels-idx1-ubyte.gz") as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8)
        return TensorDataset(torch.from_numpy(images.astype(np.float32) / 255),
                             torch.from_numpy(labels.astype(np.int64)))

    return (DataLoader(dataset("train"), batch_size=batch_size, shuffle=True),
            DataLoader(dataset("t10k"), batch_size=batch_size))


def train_epoch(model, loader, loss_fn, optimizer, device):
    model.train()
    running_loss, seen = 0.0, 0
    for X, y in loader:
        X, y = X.to(device), y.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * len(y)
        seen += len(y)
    return running_loss / seen


def evaluate(model, loader, loss_fn, device):
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for X, y in loader:
            X, y = X.to(device), y.to(device)
            logits = model(X)
            total_loss += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
    return total_loss / seen, correct / seen


def main(model="lenet", root="../data", batch_size=256, epochs=4, lr=0.1, device="cpu"):
    device = torch.device("cuda" if device == "gpu" else "cpu")
    train_loader, val_loader = load_fashion_mnist(root, batch_size)
    net = MODELS[model]().to(device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    for epoch in range(epochs):
        train_loss = train_epoch(net, train_loader, loss_fn, optimizer, device)
        val_loss, val_acc = evaluate(net, val_loader, loss_fn, device)
        print(f"epoch {epoch + 1}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, val acc {val_acc:.4f}")
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
