"""PyTorch peer of the shipped localization preset (tools/plans/broad_pretrained.json): how fast
PyTorch runs its two costs on this machine.

1. The frozen visual trunk (EfficientNet-Lite0's first 12 blocks, eval mode, no gradients) on 16
   frames of 256x256: av-align pays it once per frame and flip (the trunk cache), so it bounds
   the first epoch and inference.
2. The training step on cached trunk features ([16, 192, 8, 8]): the 1x1 neck (192 -> 64, BN,
   ReLU), the compact audio ResNet-18 (width 8, stride-1 layer4) on 251x64 log-mels, the heads
   and the stage-2 loss (BCE, AVC, Eq. 7) of `mssl_new_step.py`, SGD; without the per-position
   term (the plan's LVS tri-map term), so PyTorch does a little less work than av-align here.

The trunk is `make_efficientnet_fixtures.py`'s `LiteTrunk` (random weights: same work). Never run
by CI.

    /work/venv-torch/bin/python tools/peers/pretrained_step.py --threads 2 --steps 20
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, HERE)
from make_efficientnet_fixtures import LiteTrunk  # noqa: E402
from mssl_new_step import Model, median_step_seconds, trunk  # noqa: E402


class PretrainedModel(Model):
    """The compact model with the visual ResNet replaced by a neck over cached trunk features."""

    def __init__(self, c=15):
        super().__init__(c=c, preset="compact")
        del self.v
        self.neck = nn.Sequential(nn.Conv2d(192, self.k, 1, bias=False), nn.BatchNorm2d(self.k), nn.ReLU())

    def forward(self, cached, mel):
        return self.heads(self.neck(cached), trunk(self.a, mel))


def median(xs):
    return sorted(xs)[len(xs) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = args.batch

    lite = LiteTrunk(blocks=12).eval()
    frames = torch.randn(n, 3, 256, 256)
    times = []
    with torch.no_grad():
        for i in range(6):
            t = time.perf_counter()
            cached = lite(frames)
            if i > 0:
                times.append(time.perf_counter() - t)
    trunk_s = median(times)

    model = PretrainedModel()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
    mel = torch.randn(n, 1, 251, 64)
    la, lv = torch.rand(n, 15), torch.rand(n, 15)
    step_s = median_step_seconds(model, opt, (cached, mel), la, lv, args.steps)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {n}: trunk forward (12 blocks, "
          f"{tuple(frames.shape)} -> {tuple(cached.shape)}) {1000 * trunk_s:.1f} ms (median of 5); "
          f"training step on cached features {1000 * step_s:.1f} ms = {n / step_s:.0f} samples/s "
          f"(median of {args.steps})")


if __name__ == "__main__":
    main()
