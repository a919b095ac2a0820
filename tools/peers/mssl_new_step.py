"""PyTorch peer of av-align's stage-2 training step and localization (MSSL `new/` model).

Re-implements (no code copied) the official `new/` stage-2 model (spec §2): two torchvision
ResNet-18 trunks with a stride-1 layer4 (the audio one with a 1-channel stem), bias-free 1x1
classifiers on GAP features, the AVC MLP 1024-128-2 over all N x N pairs, CAM-weighted pooling
(Eq. 5), 512-1024-128 projections with L2 normalisation, losses BCE + balanced AVC + Eq. 7;
SGD momentum 0.9, weight decay 5e-4. Localization: both trunks once on one image + clip, Eq. 8
maps, bilinear upsampling to 256x256, class mixing. Never run by CI.

    /work/venv-torch/bin/python tools/peers/mssl_new_step.py --threads 2 --batch 16 --steps 5
"""
import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


def resnet18_stride1(in_ch):
    net = torchvision.models.resnet18(weights=None)
    # layer4 with stride 1 (output stride 16), as new/base_model.py:151.
    net.layer4[0].conv1.stride = (1, 1)
    net.layer4[0].downsample[0].stride = (1, 1)
    if in_ch == 1:
        net.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    net.fc = nn.Identity()
    net.avgpool = nn.Identity()
    return net


def trunk(net, x):
    x = net.maxpool(net.relu(net.bn1(net.conv1(x))))
    return net.layer4(net.layer3(net.layer2(net.layer1(x))))


class Model(nn.Module):
    def __init__(self, c=7):
        super().__init__()
        self.v, self.a = resnet18_stride1(3), resnet18_stride1(1)
        self.class_v = nn.Linear(512, c, bias=False)
        self.class_a = nn.Linear(512, c, bias=False)
        self.avc = nn.Sequential(nn.Linear(1024, 128), nn.ReLU(), nn.Linear(128, 2))
        self.proj_v = nn.Sequential(nn.Linear(512, 1024, bias=False), nn.ReLU(), nn.Linear(1024, 128, bias=False))
        self.proj_a = nn.Sequential(nn.Linear(512, 1024, bias=False), nn.ReLU(), nn.Linear(1024, 128, bias=False))

    def pool(self, f, head):
        n, k, h, w = f.shape
        flat = f.reshape(n, k, h * w)
        wts = F.relu(torch.einsum("nkp,ck->ncp", flat, head.weight)).detach()
        return torch.einsum("nkp,ncp->nck", flat, wts) / (wts.sum(2, keepdim=True) + 1e-10)

    def forward(self, img, mel):
        fv, fa = trunk(self.v, img), trunk(self.a, mel)
        v, a = fv.mean((2, 3)), fa.mean((2, 3))
        n = v.shape[0]
        pairs = torch.cat([a[:, None].expand(n, n, 512), v[None].expand(n, n, 512)], 2)
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Model()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9, weight_decay=5e-4)
    n = args.batch
    img, mel = torch.randn(n, 3, 256, 256), torch.randn(n, 1, 251, 64)
    la, lv = torch.rand(n, 7), torch.rand(n, 7)
    times = []
    for i in range(args.steps + 1):
        t = time.perf_counter()
        opt.zero_grad()
        loss = loss_fn(model(img, mel), la, lv)
        loss.backward()
        opt.step()
        if i > 0:
            times.append(time.perf_counter() - t)
    step = sorted(times)[len(times) // 2]
    # Localization of one image + clip (eval mode, no grad): trunks, Eq. 8, upsampling, mixing.
    model.eval()
    lat = []
    with torch.no_grad():
        for i in range(6):
            t = time.perf_counter()
            cls_v, cls_a, _, _, ga, fv = model(img[:1], mel[:1])
            gpos = F.normalize(model.proj_v(fv.flatten(2).transpose(1, 2)), dim=-1)  # [1, 256, 128]
            maps = F.relu(torch.einsum("ncd,npd->ncp", ga, gpos)).reshape(1, 7, 16, 16)
            maps = F.interpolate(maps, size=(256, 256), mode="bilinear", align_corners=False)
            p = torch.sigmoid(cls_a)
            agn = (maps * p[:, :, None, None]).sum(1) / p.sum()
            agn = agn / agn.max()
            if i > 0:
                lat.append(time.perf_counter() - t)
    loc = sorted(lat)[len(lat) // 2]
    print(f"torch {torch.__version__}, {args.threads} threads: stage-2 training step at batch {n}: "
          f"{step:.3f} s (median of {args.steps}); localization of one image+clip: {1000 * loc:.1f} ms (median of 5)")


if __name__ == "__main__":
    main()
