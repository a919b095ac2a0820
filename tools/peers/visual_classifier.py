"""PyTorch peer of the visual half of stage 1: does the compact visual trunk learn to recognise
the broad benchmark's instruments faster in PyTorch than in av-align?

Trains the compact visual ResNet-18 (width 8, stride-1 layer4; `mssl_new_step.ResNet18Stride1`)
with a bias-free linear classifier on GAP features, multi-label BCE on the visual labels (every
visible object), SGD momentum 0.9 / weight decay 5e-4 / batch 16 / horizontal flips, the
settings of the broad preset's stage 1 (`FlickrPlan::broad`). The av-align counterpart is the
stage-1 visual loss `cls_v` of a `Method::MultiTask` run (no AVC term, so the visual trunk is
trained by the visual BCE alone), logged per epoch in the run's `history.json`.

Frames come from the benchmark written in the SoundNet-Flickr layout:

    cargo run --release -p av-data --example generate -- --out /tmp/bench_broad --n 5000 \\
        --seed 2020 --layout flickr --broad --no-stems
    /work/venv-torch/bin/python tools/peers/visual_classifier.py --data /tmp/bench_broad --epochs 6

The 4 000 training frames of that command are the broad preset's 4 000 training scenes (same
generator seed and configuration), read back from the layout's JPEG files and resized
256 -> 128 with PIL's bilinear filter (which low-passes when it shrinks, unlike
`av_align::preprocess::fit_frame`'s OpenCV-style bilinear on the in-memory frame), then
ImageNet-normalised: the same scenes, with slightly different pixel values. The last `--held-out`
training frames are kept out of training and scored (mean average precision over classes).
Needs torch, numpy, pillow (pip). Never run by CI.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mssl_new_step import ResNet18Stride1, trunk  # noqa: E402

MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def load(data, side):
    """Frames (N, 3, side, side) ImageNet-normalised and visual labels (N, C) of the train split."""
    labels = json.load(open(os.path.join(data, "train", "pseudo_labels.json")))
    ids = sorted(labels["labels"])
    frames = np.empty((len(ids), 3, side, side), dtype=np.float32)
    for i, k in enumerate(ids):
        img = Image.open(os.path.join(data, "train", "frames", k + ".jpg")).convert("RGB")
        img = img.resize((side, side), Image.BILINEAR, reducing_gap=None)
        x = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
        frames[i] = x.transpose(2, 0, 1)
    y = np.array([labels["labels"][k]["visual"] for k in ids], dtype=np.float32)
    return torch.from_numpy(frames), torch.from_numpy(y)


def init_like_torchvision(model):
    """Kaiming-normal fan-out convolutions, BN weight 1 / bias 0 (torchvision's ResNet init, as
    `av_backbones::ResNetConfig::init`)."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class VisualClassifier(nn.Module):
    """The trunk, then a bias-free linear classifier on pooled features: `gap` (av-align's
    model), `gmp` (global max) or `lse` (log-sum-exp, r = 5) over positions."""

    def __init__(self, classes, width, pool):
        super().__init__()
        self.trunk = ResNet18Stride1(3, width)
        init_like_torchvision(self.trunk)
        self.fc = nn.Linear(8 * width, classes, bias=False)
        self.pool = pool

    def forward(self, x):
        f = trunk(self.trunk, x)
        if self.pool == "gap":
            return self.fc(f.mean(dim=(2, 3)))
        # Class scores per position, pooled over positions.
        s = torch.einsum("nchw,kc->nkhw", f, self.fc.weight).flatten(2)
        if self.pool == "gmp":
            return s.max(dim=2).values
        r = 5.0
        return (torch.logsumexp(r * s, dim=2) - np.log(s.shape[2])) / r


def average_precision(scores, labels):
    """Mean over classes with a positive of the average precision (sklearn's step rule)."""
    aps = []
    for c in range(labels.shape[1]):
        y = labels[:, c]
        if y.sum() == 0:
            continue
        order = np.argsort(-scores[:, c], kind="stable")
        hits = y[order]
        precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        aps.append(float((precision * hits).sum() / hits.sum()))
    return float(np.mean(aps))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--width", type=int, default=8)
    ap.add_argument("--side", type=int, default=128)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--held-out", type=int, default=500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pool", choices=["gap", "gmp", "lse"], default="gap")
    ap.add_argument("--optim", choices=["sgd", "adamw"], default="sgd")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    frames, labels = load(args.data, args.side)
    n_train = len(frames) - args.held_out
    model = VisualClassifier(labels.shape[1], args.width, args.pool)
    if args.optim == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    prior = labels[:n_train].mean(0)
    prior_bce = F.binary_cross_entropy(prior.expand(n_train, -1), labels[:n_train]).item()
    print(f"{n_train} training frames, {args.held_out} held out; BCE of the label prior {prior_bce:.3f}")
    for epoch in range(args.epochs):
        model.train()
        t = time.time()
        order = torch.randperm(n_train)
        total, steps = 0.0, 0
        for s in range(n_train // args.batch):
            idx = order[s * args.batch:(s + 1) * args.batch]
            x = frames[idx]
            flip = torch.rand(len(idx)) < 0.5
            x[flip] = x[flip].flip(3)
            loss = F.binary_cross_entropy_with_logits(model(x), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            steps += 1
        model.eval()
        with torch.no_grad():
            held = torch.sigmoid(torch.cat([model(frames[i:i + 64]) for i in range(n_train, len(frames), 64)]))
        held_bce = F.binary_cross_entropy(held, labels[n_train:]).item()
        m_ap = average_precision(held.numpy(), labels[n_train:].numpy())
        print(f"epoch {epoch}: train BCE {total / steps:.3f}, held-out BCE {held_bce:.3f}, "
              f"held-out mAP {m_ap:.3f}, {n_train / (time.time() - t):.0f} samples/s", flush=True)


if __name__ == "__main__":
    main()
