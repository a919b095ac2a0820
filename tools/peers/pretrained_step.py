"""PyTorch peer of the shipped localization preset (tools/plans/broad_pretrained.json): how fast
PyTorch runs its two costs on this machine.

1. The frozen visual trunk (EfficientNet-Lite0's first 12 blocks, eval mode, no gradients) on 16
   frames of 256x256: av-align pays it once per frame and flip (the trunk cache), so it bounds
   the first epoch and inference.
2. The training step on cached trunk features ([16, 192, 8, 8]): the 1x1 neck (192 -> 64, BN,
   ReLU), the compact audio ResNet-18 (width 8, stride-1 layer4) on 251x64 log-mels, the heads
   and the stage-2 loss (BCE, AVC, Eq. 7) of `mssl_new_step.py`, SGD. `--position` adds the
   plan's per-position term (LVS tri-map positive and background negative, as
   `av_alignment::position_contrastive_loss`), the work of av-align's
   `model/flex/stage2_step_shipped_b16` bench; without it, that of `..._nopos_b16`.

The trunk is `make_efficientnet_fixtures.py`'s `LiteTrunk` (random weights: same work). Never run
by CI.

    /work/venv-torch/bin/python tools/peers/pretrained_step.py --threads 2 --steps 20 [--position]
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
sys.path.insert(0, HERE)
from make_efficientnet_fixtures import LiteTrunk  # noqa: E402
from mssl_new_step import Model, loss_fn, trunk  # noqa: E402

# The per-position term of tools/plans/broad_pretrained_best.json's stage 2.
TEMPERATURE, ANCHOR, NEGATIVE = 0.07, 0.5, 0.5
EPS_POS, EPS_NEG, SOFT = 0.65, 0.4, 0.03


def soft_masked_mean(sim, eps, complement):
    """sum_p w_p s_p / sum_p w_p with the detached mask w = sigmoid(+-(s - eps) / soft), rescaled by
    its maximum in the log domain (av_alignment's soft_masked_mean)."""
    z = (sim.detach() - eps) / SOFT
    log_w = F.logsigmoid(-z if complement else z)
    w = torch.exp(log_w - log_w.amax(2, keepdim=True))
    return (sim * w).sum(2) / w.sum(2)


def position_loss(ga, gv_pos, la, lv):
    """av_alignment::position_contrastive_loss with the LVS score and background negative."""
    n, c, d = ga.shape
    m = n * c
    sim = (ga.reshape(m, d) @ gv_pos.reshape(-1, d).t()).reshape(m, n, -1)
    score = soft_masked_mean(sim, EPS_POS, False)  # [M, N]
    eye = torch.eye(n)
    own = (eye[:, None, :] * torch.ones(1, c, 1)).reshape(m, n)
    not_shown = (lv.detach() <= NEGATIVE).float().t().reshape(1, c, n)
    negatives = ((1 - eye)[:, None, :] * not_shown).reshape(m, n)
    anchor = (la.detach() > ANCHOR).float().reshape(m, 1)
    logits = score / TEMPERATURE
    positive = (logits * own).sum(1, keepdim=True)
    background = (soft_masked_mean(sim, EPS_NEG, True) * own).sum(1, keepdim=True)
    logits = torch.cat([logits, background / TEMPERATURE], 1)
    valid = torch.cat([own + negatives, torch.ones(m, 1)], 1)
    masked = logits.masked_fill(valid == 0, -1e4)
    shift = masked.amax(1, keepdim=True).detach()
    lse = ((masked - shift).exp() * valid).sum(1, keepdim=True).log() + shift
    return ((lse - positive) * anchor).sum() / anchor.sum().clamp(min=1)


def step_seconds(model, opt, inputs, la, lv, steps, position):
    """Median wall time of `steps` SGD steps after one untimed warm-up step."""
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        opt.zero_grad()
        out = model(*inputs)
        loss = loss_fn(out, la, lv)
        if position:
            fv, ga = out[5], out[4]
            n, k, h, w = fv.shape
            gv_pos = F.normalize(model.proj_v(fv.reshape(n, k, h * w).transpose(1, 2)), dim=-1)
            loss = loss + position_loss(ga, gv_pos, la, lv)
        loss.backward()
        opt.step()
        if i > 0:
            times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


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
    ap.add_argument("--position", action="store_true", help="add the plan's per-position term")
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
    step_s = step_seconds(model, opt, (cached, mel), la, lv, args.steps, args.position)
    print(f"torch {torch.__version__}, {args.threads} threads, batch {n}: trunk forward (12 blocks, "
          f"{tuple(frames.shape)} -> {tuple(cached.shape)}) {1000 * trunk_s:.1f} ms (median of 5); "
          f"training step on cached features{' with the per-position term' if args.position else ''} {1000 * step_s:.1f} ms = {n / step_s:.0f} samples/s "
          f"(median of {args.steps})")


if __name__ == "__main__":
    main()
