"""Linear probe of frozen ImageNet features on the broad benchmark's frames: how well does a
pretrained EfficientNet-Lite0 trunk, cut after each of its last blocks, tell the instruments in
a frame apart, in-family and out-of-family, without any training of the trunk?

Frames and labels come from two layouts written by av-data's generator (labels: every visible
object's class, from `benchmark/scenes.json`):

    cargo run --release -p av-data --example generate -- --out /tmp/bench_broad --n 5000 \\
        --seed 2020 --layout flickr --broad --no-stems
    cargo run --release -p av-data --example generate -- --out /tmp/bench_broad_oof --n 1000 \\
        --seed 2020 --layout flickr --broad --out-of-family --no-stems
    bash tools/assets/fetch_pretrained.sh
    /work/venv-torch/bin/python tools/peers/pretrained_probe.py --split val

The probe is fitted on the 4 000 training frames (global-average-pooled trunk features,
standardised, one logistic regression per class: full-batch Adam, lr 1e-2, weight decay 1e-4,
300 steps, seed 0) and scored by mean average precision over the classes on the in-family
validation split (500 scenes) and the out-of-family one (500 scenes: picture families,
SoundFont and photo groups never used in training). `--split test` scores the test splits
instead; defaults were chosen on `val`. Frames are read from the JPEG files and resized with
PIL's bilinear filter to `--side` pixels, then scaled to [-1, 1] ((x - 127) / 128, the TPU
repository's Lite preprocessing). Needs torch, numpy, pillow. Never run by CI.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from make_efficientnet_fixtures import LiteTrunk  # noqa: E402

WEIGHTS = os.path.join(os.environ.get("AV_ALIGN_CACHE", os.path.expanduser("~/.cache/av-align")),
                       "pretrained", "efficientnet-lite0-57934424.pth")


def load(root, split, side):
    """Frames [N, 3, side, side] in [-1, 1] and multi-hot visual labels [N, 15] of one split."""
    scenes = [s for s in json.load(open(os.path.join(root, "benchmark", "scenes.json")))["scenes"]
              if s["split"] == split]
    x = np.empty((len(scenes), 3, side, side), np.float32)
    y = np.zeros((len(scenes), 15), np.float32)
    for i, s in enumerate(scenes):
        img = Image.open(os.path.join(root, s["frames"][0])).convert("RGB").resize((side, side), Image.BILINEAR)
        x[i] = ((np.asarray(img, np.float32) - 127.0) / 128.0).transpose(2, 0, 1)
        for o in s["objects"]:
            y[i, o["class"]] = 1.0
    return torch.from_numpy(x), torch.from_numpy(y)


def pooled_features(net, x, first_block):
    """Global-average-pooled outputs of blocks `first_block`..15, {block: [N, C]}."""
    out = {}
    with torch.no_grad():
        for i in range(0, len(x), 64):
            h = F.relu6(net._bn0(net._conv_stem(torch.nn.functional.pad(x[i:i + 64], (0, 1, 0, 1)))))
            for j, block in enumerate(net._blocks):
                h = block(h)
                if j >= first_block:
                    out.setdefault(j, []).append(h.mean((2, 3)))
    return {j: torch.cat(v) for j, v in out.items()}


def mean_ap(scores, labels):
    aps = []
    for c in range(labels.shape[1]):
        t = labels[:, c]
        if t.sum() == 0:
            continue
        t = t[torch.argsort(-scores[:, c])]
        precision = torch.cumsum(t, 0) / torch.arange(1, len(t) + 1)
        aps.append(float((precision * t).sum() / t.sum()))
    return float(np.mean(aps))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/bench_broad")
    ap.add_argument("--out-of-family", default="/tmp/bench_broad_oof")
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--side", type=int, default=256)
    ap.add_argument("--first-block", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(2)
    net = LiteTrunk(blocks=16)
    missing, _ = net.load_state_dict(torch.load(WEIGHTS, map_location="cpu"), strict=False)
    assert not missing, missing
    net.eval()
    assert args.side % 2 == 0, "the stem's TF 'same' padding is hard-coded for even sides here"
    xs = [load(args.data, "train", args.side), load(args.data, args.split, args.side),
          load(args.out_of_family, args.split, args.side)]
    feats = [pooled_features(net, x, args.first_block) for x, _ in xs]
    print(f"| blocks kept | channels | in-family {args.split} mAP | out-of-family {args.split} mAP |")
    print("|---|---|---|---|")
    for j in sorted(feats[0]):
        f = [d[j] for d in feats]
        mu, sd = f[0].mean(0), f[0].std(0) + 1e-6
        f = [(v - mu) / sd for v in f]
        torch.manual_seed(0)
        probe = torch.nn.Linear(f[0].shape[1], 15)
        opt = torch.optim.Adam(probe.parameters(), 1e-2, weight_decay=1e-4)
        for _ in range(300):
            opt.zero_grad()
            F.binary_cross_entropy_with_logits(probe(f[0]), xs[0][1]).backward()
            opt.step()
        with torch.no_grad():
            print(f"| {j + 1} | {f[0].shape[1]} | {mean_ap(probe(f[1]), xs[1][1]):.3f} | "
                  f"{mean_ap(probe(f[2]), xs[2][1]):.3f} |", flush=True)


if __name__ == "__main__":
    main()
