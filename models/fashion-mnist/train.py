#!/usr/bin/python3
"""Trains cleave's small labelled model: a CNN with a residual block on
Fashion-MNIST (Debian's dataset-fashion-mnist), on the CPU with Debian's
python3-torch, and exports it to ONNX.

The exported model takes the image as float32 1x1x28x28 with pixels scaled
to [0, 1] (pixel / 255); the normalisation by the training set's mean and
standard deviation is inside the graph (a Sub and a Div), so a user feeds
pixels / 255 and nothing else. Its output is 1x10 logits.

  /usr/bin/python3 models/fashion-mnist/train.py [--epochs N] [--seed S]
        [--data DIR] [--out DIR]

Writes OUT/fmnist-resnet.onnx and OUT/fmnist-resnet.json (seed, epochs,
the exported model's test accuracy as PyTorch computes it, versions). The
committed model was made by this script with its defaults; the JSON beside
it is the record, and tests/test_dataset.c checks that cleave's engine
reproduces its accuracy.
"""
import argparse
import gzip
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An IDX file (gzip or plain) as a numpy array of its dims."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        sys.exit(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Block(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity shortcut."""

    def __init__(self, ch):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(ch)
        self.conv2 = nn.Conv2d(ch, ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(ch)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(x + y)


class Net(nn.Module):
    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor([[[[mean]]]], dtype=torch.float32))
        self.register_buffer("std", torch.tensor([[[[std]]]], dtype=torch.float32))
        self.stem = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2))                                  # 32x14x14
        self.block = Block(32)
        self.head = nn.Sequential(
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),                                  # 64x7x7
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(64, 64), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(64, 10))

    def forward(self, x):
        x = (x - self.mean) / self.std
        return self.head(self.block(self.stem(x)))


def accuracy(model, images, labels, batch=1000):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i:i + batch]).float().div(255).unsqueeze(1)
            correct += (model(x).argmax(1).numpy() == labels[i:i + batch]).sum()
    return correct / len(images)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(a.threads)
    tr_x = read_idx(os.path.join(a.data, "train-images-idx3-ubyte.gz"))
    tr_y = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz")).astype(np.int64)
    te_x = read_idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz"))
    te_y = read_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    px = tr_x.astype(np.float64) / 255
    mean, std = float(px.mean()), float(px.std())

    model = Net(mean, std)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = a.epochs * ((len(tr_x) + 127) // 128)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
    g = torch.Generator().manual_seed(a.seed)
    t0 = time.time()
    for ep in range(a.epochs):
        model.train()
        perm = torch.randperm(len(tr_x), generator=g).numpy()
        total = 0.0
        for i in range(0, len(perm), 128):
            idx = perm[i:i + 128]
            x = torch.from_numpy(tr_x[idx]).float().div(255).unsqueeze(1)
            # light augmentation: random horizontal flips (clothes are symmetric)
            flip = torch.rand(len(idx), generator=g) < 0.5
            x[flip] = x[flip].flip(3)
            y = torch.from_numpy(tr_y[idx])
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        acc = accuracy(model, te_x, te_y)
        print(f"epoch {ep + 1}/{a.epochs}: loss {total / len(tr_x):.4f}, "
              f"test accuracy {acc:.4f} ({time.time() - t0:.0f} s)", flush=True)

    model.eval()
    acc = accuracy(model, te_x, te_y)
    os.makedirs(a.out, exist_ok=True)
    onnx_path = os.path.join(a.out, "fmnist-resnet.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), onnx_path,
                      input_names=["image"], output_names=["logits"],
                      opset_version=13, do_constant_folding=True)
    # the exported file's accuracy, counted image by image as cleave does
    correct = 0
    with torch.no_grad():
        for i in range(len(te_x)):
            x = torch.from_numpy(te_x[i:i + 1]).float().div(255).unsqueeze(1)
            correct += int(model(x).argmax(1).item() == te_y[i])
    record = {
        "format": "cleave-trained-model", "version": 1,
        "model": "fmnist-resnet.onnx",
        "dataset": "Fashion-MNIST (Debian dataset-fashion-mnist)",
        "input": "image: float32 1x1x28x28, pixel / 255",
        "output": "logits: float32 1x10",
        "seed": a.seed, "epochs": a.epochs,
        "train_mean": mean, "train_std": std,
        "test_images": int(len(te_x)), "test_correct": correct,
        "test_accuracy": correct / len(te_x),
        "torch": torch.__version__,
        "train_seconds": round(time.time() - t0),
    }
    with open(os.path.join(a.out, "fmnist-resnet.json"), "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    print(f"wrote {onnx_path}: test accuracy {correct}/{len(te_x)} = {correct / len(te_x):.4f}")
    if correct / len(te_x) < 0.90:
        sys.exit("accuracy below 90%: train longer (--epochs)")


if __name__ == "__main__":
    main()
