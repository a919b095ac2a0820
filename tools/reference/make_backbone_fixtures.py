"""Writes the PyTorch reference fixtures of av-backbones.

Command (from the repository root; torch is a ~3 GB install, never used by CI):
    python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install torch==2.9.1 safetensors==0.6.2 numpy==2.2.6
    /tmp/venv-torch/bin/python tools/reference/make_backbone_fixtures.py
Output: crates/av-backbones/tests/fixtures/<net>.safetensors, each holding the network's weights
under its PyTorch state_dict keys ("w." prefix), the inputs ("in.*") and the outputs in eval mode
(BN running statistics, "eval.*") and train mode (batch statistics, "train.*").

The networks are reduced-width twins of the real ones (same topology, ResNet base width 4, U-Net
ngf 4 with six levels) so that the fixtures stay small; BN parameters and running statistics are
randomised so that eval mode is not an identity. The torchvision ResNet structure is re-typed
below (torchvision's BasicBlock refuses widths other than 64); Sound-of-Pixels' `UnetBlock` and
`_nostride_dilate` are copied from hangzhaomit/Sound-of-Pixels (MIT licence), models/audio_net.py
and models/vision_net.py.
"""
import copy
import os

import numpy as np
import torch
import torch.nn as nn
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "av-backbones", "tests", "fixtures")
torch.set_num_threads(2)


# ---- torchvision ResNet structure with a width knob -------------------------------------------
def conv3x3(i, o, stride=1):
    return nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision resnet18 topology; MSSL's stride-1 layer4; optional 1-channel `conv1_a`."""

    def __init__(self, width=64, in_ch=3, layer4_stride=1, audio=False):
        super().__init__()
        w = width
        self.inplanes = w
        self.audio = audio
        self.conv1 = nn.Conv2d(3, w, 7, stride=2, padding=3, bias=False)
        if audio:  # MSSL new/base_model.py:139-140: both stems exist, conv1_a is used
            self.conv1_a = nn.Conv2d(1, w, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(w, 2)
        self.layer2 = self._make_layer(2 * w, 2, stride=2)
        self.layer3 = self._make_layer(4 * w, 2, stride=2)
        self.layer4 = self._make_layer(8 * w, 2, stride=layer4_stride)
        self.fc = nn.Linear(8 * w, 1000)  # ImageNet head: present in torchvision files, dropped on import

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                                       nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.conv1_a(x) if self.audio else self.conv1(x)
        x = self.maxpool(self.relu(self.bn1(x)))
        l3 = self.layer3(self.layer2(self.layer1(x)))
        return l3, self.layer4(l3)


def nostride_dilate(m, dilate):  # Sound-of-Pixels models/vision_net.py
    classname = m.__class__.__name__
    if classname.find('Conv') != -1:
        if m.stride == (2, 2):
            m.stride = (1, 1)
            if m.kernel_size == (3, 3):
                m.dilation = (dilate // 2, dilate // 2)
                m.padding = (dilate // 2, dilate // 2)
        else:
            if m.kernel_size == (3, 3):
                m.dilation = (dilate, dilate)
                m.padding = (dilate, dilate)


# ---- Sound-of-Pixels U-Net (models/audio_net.py) -----------------------------------------------
class UnetBlock(nn.Module):
    def __init__(self, outer_nc, inner_input_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, inner_output_nc=None):
        super().__init__()
        self.outermost = outermost
        use_bias = False
        if input_nc is None:
            input_nc = outer_nc
        if innermost:
            inner_output_nc = inner_input_nc
        elif inner_output_nc is None:
            inner_output_nc = 2 * inner_input_nc
        downrelu = nn.LeakyReLU(0.2, True)
        downnorm = nn.BatchNorm2d(inner_input_nc)
        uprelu = nn.ReLU(True)
        upnorm = nn.BatchNorm2d(outer_nc)
        upsample = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
        if outermost:
            downconv = nn.Conv2d(input_nc, inner_input_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            upconv = nn.Conv2d(inner_output_nc, outer_nc, kernel_size=3, padding=1)
            model = [downconv] + [submodule] + [uprelu, upsample, upconv]
        elif innermost:
            downconv = nn.Conv2d(input_nc, inner_input_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            upconv = nn.Conv2d(inner_output_nc, outer_nc, kernel_size=3, padding=1, bias=use_bias)
            model = [downrelu, downconv] + [uprelu, upsample, upconv, upnorm]
        else:
            downconv = nn.Conv2d(input_nc, inner_input_nc, kernel_size=4, stride=2, padding=1, bias=use_bias)
            upconv = nn.Conv2d(inner_output_nc, outer_nc, kernel_size=3, padding=1, bias=use_bias)
            model = [downrelu, downconv, downnorm] + [submodule] + [uprelu, upsample, upconv, upnorm]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([x, self.model(x)], 1)


class Unet(nn.Module):
    def __init__(self, fc_dim=64, num_downs=5, ngf=64):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(1)
        block = UnetBlock(ngf * 8, ngf * 8, input_nc=None, submodule=None, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, input_nc=None, submodule=block)
        block = UnetBlock(ngf * 4, ngf * 8, input_nc=None, submodule=block)
        block = UnetBlock(ngf * 2, ngf * 4, input_nc=None, submodule=block)
        block = UnetBlock(ngf, ngf * 2, input_nc=None, submodule=block)
        block = UnetBlock(fc_dim, ngf, input_nc=1, submodule=block, outermost=True)
        self.unet_block = block

    def forward(self, x):
        return self.unet_block(self.bn0(x))


def unet_state_in_our_naming(net, num_downs):
    """Nested `unet_block.model.K...` keys -> `levels.I.{down_conv,down_bn,up_conv,up_bn}.*`."""
    out = {"bn0." + k: v for k, v in net.bn0.state_dict().items()}
    block = net.unet_block
    for i in range(num_downs):
        mods = list(block.model)
        convs = [m for m in mods if isinstance(m, nn.Conv2d)]
        bns = [(j, m) for j, m in enumerate(mods) if isinstance(m, nn.BatchNorm2d)]
        sub = [m for m in mods if isinstance(m, UnetBlock)]
        names = {"down_conv": convs[0], "up_conv": convs[1]}
        down_conv_idx = mods.index(convs[0])
        for j, bn in bns:
            names["down_bn" if j == down_conv_idx + 1 else "up_bn"] = bn
        for name, mod in names.items():
            for k, v in mod.state_dict().items():
                out[f"levels.{i}.{name}.{k}"] = v
        block = sub[0] if sub else None
    return out


# ---- helpers ------------------------------------------------------------------------------------
def randomise_bn(net, gen):
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.copy_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))


def weights(state, prefix="w."):
    return {prefix + k: v.detach().numpy().astype(np.float32) for k, v in state.items()
            if not k.endswith("num_batches_tracked")}


def both_modes(net, fn):
    """fn(net) -> dict of outputs, run in eval mode, then in train mode on a copy."""
    net.eval()
    with torch.no_grad():
        ev = {f"eval.{k}": v for k, v in fn(net).items()}
    train_net = copy.deepcopy(net).train()
    with torch.no_grad():
        tr = {f"train.{k}": v for k, v in fn(train_net).items()}
    return {**ev, **tr}


def save(name, tensors):
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"{name}.safetensors")
    data = {k: (v.detach().numpy() if torch.is_tensor(v) else v).astype(np.float32) for k, v in tensors.items()}
    save_file({k: np.ascontiguousarray(v) for k, v in data.items()}, path,
              metadata={"torch": torch.__version__, "generator": "tools/reference/make_backbone_fixtures.py"})
    print(f"{name}: {len(data)} tensors, {os.path.getsize(path) / 1024:.0f} KiB")


def main():
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    # 1. Visual ResNet, stride-1 layer4; torchvision naming (incl. the ImageNet fc to be dropped).
    net = ResNet(width=4)
    randomise_bn(net, gen)
    x = torch.randn(2, 3, 64, 64, generator=gen)
    layer5 = copy.deepcopy(net.layer4)  # MSSL copies ImageNet layer4 into layer5

    def run_visual(n):
        l3, l4 = n.forward(x)
        l5 = (layer5.train() if n.training else layer5.eval())(l3)
        return {"layer3": l3, "layer4": l4, "layer5": l5}
    save("resnet_visual", {**weights(net.state_dict()), "in.x": x, **both_modes(net, run_visual)})

    # 2. Audio ResNet (MSSL naming: conv1 + conv1_a), 1 x 101 x 64 log-mel-sized input.
    net = ResNet(width=4, audio=True)
    randomise_bn(net, gen)
    x = torch.randn(2, 1, 101, 64, generator=gen)
    save("resnet_audio", {**weights(net.state_dict()), "in.x": x,
                          **both_modes(net, lambda n: {"layer4": n.forward(x)[1]})})

    # 3. Sound-of-Pixels visual net: dilated ResNet + 3x3 conv to K = 8, max pool, sigmoid.
    trunk = ResNet(width=4, layer4_stride=2)
    trunk.layer4.apply(lambda m: nostride_dilate(m, dilate=2))
    fc = nn.Conv2d(32, 8, 3, padding=1)
    randomise_bn(trunk, gen)
    x = torch.randn(2, 3, 64, 64, generator=gen)

    class Sop(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk, self.fc = trunk, fc

        def forward(self, x):
            m = self.fc(self.trunk(x)[1])
            return m, torch.sigmoid(m.amax(dim=(2, 3)))
    sop = Sop()
    state = {("trunk." + k[len("trunk."):] if k.startswith("trunk.") else k): v for k, v in sop.state_dict().items()}
    save("sop_visual", {**weights(state), "in.x": x,
                        **both_modes(sop, lambda n: dict(zip(["map", "vector"], n.forward(x))))})

    # 4. U-Net, ngf 4, six levels, K = 4, on 2 x 1 x 64 x 64.
    unet = Unet(fc_dim=4, num_downs=6, ngf=4)
    randomise_bn(unet, gen)
    x = torch.randn(2, 1, 64, 64, generator=gen)
    save("unet", {**weights(unet_state_in_our_naming(unet, 6)), "in.x": x,
                  **both_modes(unet, lambda n: {"y": n.forward(x)})})

    # 5. Heads: classifier (bias-free), AVC MLP over all pairs, projection + L2 norm.
    d = 16
    cls = nn.Linear(d, 5, bias=False)
    avc = nn.Sequential(nn.Linear(2 * d, 8), nn.ReLU(), nn.Linear(8, 2))
    proj = nn.Sequential(nn.Linear(d, 32, bias=False), nn.ReLU(), nn.Linear(32, 8, bias=False))
    a = torch.randn(3, d, generator=gen)
    v = torch.randn(4, d, generator=gen)
    fmap = torch.randn(2, d, 3, 5, generator=gen)
    with torch.no_grad():
        pairs = avc(torch.cat([a[:, None, :].expand(3, 4, d), v[None, :, :].expand(3, 4, d)], dim=2))
        emb = torch.nn.functional.normalize(proj(a), dim=1)
        cam = torch.einsum("kd,ndhw->nkhw", cls.weight, fmap)
        logits = cls(fmap.mean(dim=(2, 3)))
    state = {**{"cls.fc." + k: t for k, t in cls.state_dict().items()},
             **{"avc.fc1." + k: t for k, t in avc[0].state_dict().items()},
             **{"avc.fc2." + k: t for k, t in avc[2].state_dict().items()},
             **{"proj.fc1." + k: t for k, t in proj[0].state_dict().items()},
             **{"proj.fc2." + k: t for k, t in proj[2].state_dict().items()}}
    save("heads", {**weights(state), "in.a": a, "in.v": v, "in.fmap": fmap, "out.pairs": pairs,
                   "out.embedding": emb, "out.cam": cam, "out.logits": logits})
    # The same head weights as a PyTorch pickle, for the `.pth` import path.
    torch.save(state, os.path.join(OUT, "heads.pth"))
    print(f"heads.pth: {os.path.getsize(os.path.join(OUT, 'heads.pth')) / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
