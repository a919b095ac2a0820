"""PyTorch peer of av-align's stage-2 training step and localization (MSSL `new/` model).

Re-implements (no code copied) the official `new/` stage-2 model (docs/reference_implementation.md §2): two ResNet-18
trunks (torchvision's topology, written out so that `--preset compact` can narrow them) with a stride-1 layer4 (the audio one with a 1-channel stem), bias-free 1x1
classifiers on GAP features, the AVC MLP 1024-128-2 over all N x N pairs, CAM-weighted pooling
(Eq. 5), 512-1024-128 projections with L2 normalisation, losses BCE + balanced AVC + Eq. 7;
SGD momentum 0.9, weight decay 5e-4. Localization: end to end from a decoded 5-s clip and a
320x240 RGB frame (librosa log-mel, cv2 resize, both trunks, Eq. 8 maps, bilinear upsampling to
256x256, class mixing). Never run by CI.

    /work/venv-torch/bin/python tools/peers/mssl_new_step.py --threads 2 --batch 16 --steps 5 [--preset compact]

Needs torch, numpy, librosa and opencv-python-headless (pip).
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import librosa
import numpy as np
import cv2


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: 3x3 conv-BN-ReLU, 3x3 conv-BN, 1x1 conv-BN shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet18Stride1(nn.Module):
    """ResNet-18 (torchvision topology) of base width `width` with a stride-1 layer4 (output
    stride 16, as new/base_model.py:151); width 64 is torchvision's resnet18."""

    def __init__(self, in_ch, width=64):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans = [width, 2 * width, 4 * width, 8 * width]
        strides = [1, 2, 2, 1]
        layers, cin = [], width
        for c, s in zip(chans, strides):
            layers.append(nn.Sequential(BasicBlock(cin, c, s), BasicBlock(c, c, 1)))
            cin = c
        self.layer1, self.layer2, self.layer3, self.layer4 = layers


IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406])[:, None, None]
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225])[:, None, None]


def trunk(net, x):
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    return net.layer4(net.layer3(net.layer2(net.layer1(x))))


# (trunk base width, AVC hidden, projection hidden, embedding) of av-align's presets.
PRESETS = {"paper": (64, 128, 1024, 128), "compact": (8, 32, 128, 64)}


class Model(nn.Module):
    def __init__(self, c=7, preset="paper"):
        super().__init__()
        width, avc, hidden, emb = PRESETS[preset]
        k = 8 * width
        self.k = k
        self.v, self.a = ResNet18Stride1(3, width), ResNet18Stride1(1, width)
        self.class_v = nn.Linear(k, c, bias=False)
        self.class_a = nn.Linear(k, c, bias=False)
        self.avc = nn.Sequential(nn.Linear(2 * k, avc), nn.ReLU(), nn.Linear(avc, 2))
        self.proj_v = nn.Sequential(nn.Linear(k, hidden, bias=False), nn.ReLU(), nn.Linear(hidden, emb, bias=False))
        self.proj_a = nn.Sequential(nn.Linear(k, hidden, bias=False), nn.ReLU(), nn.Linear(hidden, emb, bias=False))

    def pool(self, f, head):
        n, k, h, w = f.shape
        flat = f.reshape(n, k, h * w)
        wts = F.relu(torch.einsum("nkp,ck->ncp", flat, head.weight)).detach()
        return torch.einsum("nkp,ncp->nck", flat, wts) / (wts.sum(2, keepdim=True) + 1e-10)

    def forward(self, img, mel):
        return self.heads(trunk(self.v, img), trunk(self.a, mel))

    def heads(self, fv, fa):
        """Classifiers, AVC, pooled projections from the two trunks' feature maps."""
        v, a = fv.mean((2, 3)), fa.mean((2, 3))
        n = v.shape[0]
        pairs = torch.cat([a[:, None].expand(n, n, self.k), v[None].expand(n, n, self.k)], 2)
        gv = F.normalize(self.proj_v(self.pool(fv, self.class_v)), dim=-1)
        ga = F.normalize(self.proj_a(self.pool(fa, self.class_a)), dim=-1)
        return self.class_v(v), self.class_a(a), self.avc(pairs), gv, ga, fv


def loss_fn(out, la, lv):
        cls_v, cls_a, avc, gv, ga, _ = out
        n, c = cls_a.shape
        l = F.binary_cross_entropy(torch.sigmoid(cls_a), la) + F.binary_cross_entropy(torch.sigmoid(cls_v), lv)
        eye = torch.eye(n)
        ce = F.cross_entropy(avc.reshape(-1, 2), eye.reshape(-1).long(), reduction="none").reshape(n, n)
        l = l + (ce * eye).sum() / n / 2 + (ce * (1 - eye)).sum() / (n * (n - 1)) / 2
        m = n * c
        s = ga.reshape(m, -1) @ gv.reshape(m, -1).t()
        d2 = (2 - 2 * s)
        eff = (torch.sigmoid(cls_a).reshape(m, 1) > 0.3).float() * (torch.sigmoid(cls_v).reshape(1, m) > 0.3).float()
        pos = torch.eye(m)
        lp = (d2 * eff * pos).sum() / (pos * eff + 1e-10).sum()
        ln = (F.relu(1.4 - torch.sqrt(d2.clamp(min=0) + 1e-12)) ** 2 * eff * (1 - pos)).sum() / ((1 - pos) * eff + 1e-10).sum()
        return l + lp + ln


def median_step_seconds(model, opt, inputs, la, lv, steps):
    """Median wall time of `steps` SGD steps of `loss_fn(model(*inputs), la, lv)` after one
    untimed warm-up step."""
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(*inputs), la, lv)
        loss.backward()
        opt.step()
        if i > 0:
            times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def localize(model, wave, rgb):
    """End to end from decoded audio (5 s mono at 22 050 Hz) and a decoded RGB image, as the
    official pipeline does it: librosa log-mel (prepare_data/data.py), cv2 bilinear resize to
    256x256 + ImageNet normalisation, both trunks, Eq. 8 maps, bilinear upsampling, class mixing."""
    mel = np.log(librosa.feature.melspectrogram(y=wave, sr=22050, n_fft=882, hop_length=441, n_mels=64)
                 + np.spacing(1)).T
    mel = torch.from_numpy(mel.astype(np.float32))[None, None]
    img = cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    img = (torch.from_numpy(img).permute(2, 0, 1) - IMAGENET_MEAN) / IMAGENET_STD
    cls_v, cls_a, _, _, ga, fv = model(img[None], mel)
    gpos = F.normalize(model.proj_v(fv.flatten(2).transpose(1, 2)), dim=-1)  # [1, 256, E]
    maps = F.relu(torch.einsum("ncd,npd->ncp", ga, gpos)).reshape(1, -1, 16, 16)
    maps = F.interpolate(maps, size=(256, 256), mode="bilinear", align_corners=False)
    p = torch.sigmoid(cls_a)
    agn = (maps * p[:, :, None, None]).sum(1) / p.sum()
    return agn / agn.max()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="paper")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Model(preset=args.preset)
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
    n = args.batch
    img, mel = torch.randn(n, 3, 256, 256), torch.randn(n, 1, 251, 64)
    la, lv = torch.rand(n, 7), torch.rand(n, 7)
    step = median_step_seconds(model, opt, (img, mel), la, lv, args.steps)
    model.eval()
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(5 * 22050)).astype(np.float32)
    rgb = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    lat = []
    with torch.no_grad():
        for i in range(11):
            t = time.perf_counter()
            localize(model, wave, rgb)
            if i > 0:
                lat.append(time.perf_counter() - t)
    loc = sorted(lat)[len(lat) // 2]
    print(f"torch {torch.__version__}, {args.threads} threads, {args.preset} preset: stage-2 training step at "
          f"batch {n}: {step:.3f} s (median of {args.steps}); localization of one image+clip end to end: "
          f"{1000 * loc:.1f} ms (median of 10)")


if __name__ == "__main__":
    main()
