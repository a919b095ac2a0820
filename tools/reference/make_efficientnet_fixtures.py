"""Writes the PyTorch reference fixture of av-backbones' EfficientNet-Lite trunk.

Command (from the repository root; torch is a ~3 GB install, never used by CI):
    python3 -m venv /work/venv-torch && /work/venv-torch/bin/pip install torch safetensors numpy
    /work/venv-torch/bin/python tools/reference/make_efficientnet_fixtures.py
Output: crates/av-backbones/tests/fixtures/efficientnet_lite.safetensors: the weights of a
reduced-width twin ("w." prefix, the PyTorch state_dict keys of lukemelas' EfficientNet-PyTorch
naming, with their leading underscores, as in the pretrained `efficientnet-lite0-57934424.pth`),
the inputs ("in.*") and the trunk's output in eval mode (BN running statistics, "eval.*") and
train mode (batch statistics, "train.*").

The module is written here from the EfficientNet-Lite0 definition (TensorFlow TPU repository,
`efficientnet_lite_builder.py`: blocks of `efficientnet_builder.py`'s `_DEFAULT_BLOCKS_ARGS`, no
squeeze-excitation, ReLU6, stem 32 channels, BN eps 1e-3) and TensorFlow's "same" padding
(`Conv2dStaticSamePadding` in the PyTorch port, computed here from each input's size). The twin
divides every channel count by 8 (rounded up) and keeps 12 of the 16 blocks, as the av-align
visual trunk does; BN parameters and running statistics are randomised so that eval mode is not
an identity. The same code with width divisor 1 loads the pretrained file and classifies
scikit-image's `chelsea` as an Egyptian cat (285) and `coffee` as espresso (967) when the head
(`_conv_head`, `_bn1`, `_fc`) is added; that check is not part of the fixture.
"""
import copy
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_backbone_fixtures import randomise_bn  # noqa: E402 (the same BN randomisation)

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "av-backbones", "tests", "fixtures")
torch.set_num_threads(2)

# (kernel, stride, in, out, expansion) of EfficientNet-Lite0's 16 blocks.
LITE0 = [(3, 1, 32, 16, 1), (3, 2, 16, 24, 6), (3, 1, 24, 24, 6), (5, 2, 24, 40, 6), (5, 1, 40, 40, 6),
         (3, 2, 40, 80, 6), (3, 1, 80, 80, 6), (3, 1, 80, 80, 6), (5, 1, 80, 112, 6), (5, 1, 112, 112, 6),
         (5, 1, 112, 112, 6), (5, 2, 112, 192, 6), (5, 1, 192, 192, 6), (5, 1, 192, 192, 6),
         (5, 1, 192, 192, 6), (3, 1, 192, 320, 6)]


def pad_same(x, k, s):
    """TensorFlow's 'same' padding for a k x k conv of stride s (smaller half before)."""
    ih, iw = x.shape[-2:]
    ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
    pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class MBConv(nn.Module):
    def __init__(self, k, s, cin, cout, e):
        super().__init__()
        hidden = cin * e
        self.k, self.s, self.expand = k, s, e != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, hidden, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(hidden, eps=1e-3)
        self._depthwise_conv = nn.Conv2d(hidden, hidden, k, stride=s, groups=hidden, bias=False)
        self._bn1 = nn.BatchNorm2d(hidden, eps=1e-3)
        self._project_conv = nn.Conv2d(hidden, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=1e-3)
        self.residual = s == 1 and cin == cout

    def forward(self, x):
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        h = F.relu6(self._bn1(self._depthwise_conv(pad_same(h, self.k, self.s))))
        h = self._bn2(self._project_conv(h))
        return x + h if self.residual else h


class LiteTrunk(nn.Module):
    def __init__(self, blocks=12, divisor=1):
        super().__init__()
        c = lambda n: -(-n // divisor)  # noqa: E731 (ceil division, as the Rust config)
        self._conv_stem = nn.Conv2d(3, c(32), 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(c(32), eps=1e-3)
        self._blocks = nn.ModuleList(MBConv(k, s, c(i), c(o), e) for k, s, i, o, e in LITE0[:blocks])

    def forward(self, x):
        x = F.relu6(self._bn0(self._conv_stem(pad_same(x, 3, 2))))
        for b in self._blocks:
            x = b(x)
        return x


def main():
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = LiteTrunk(blocks=12, divisor=8)
    randomise_bn(net, gen)
    # An even square input (the frames' case: one extra row / column after, at every stride 2)
    # and an odd, rectangular one (symmetric padding at some layers).
    inputs = {"even": torch.randn(2, 3, 64, 64, generator=gen), "odd": torch.randn(2, 3, 50, 71, generator=gen)}
    tensors = {"w." + k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    for name, x in inputs.items():
        tensors[f"in.{name}"] = x
        net.eval()
        with torch.no_grad():
            tensors[f"eval.{name}"] = net(x)
        with torch.no_grad():
            tensors[f"train.{name}"] = copy.deepcopy(net).train()(x)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "efficientnet_lite.safetensors")
    data = {k: np.ascontiguousarray(v.detach().numpy().astype(np.float32)) for k, v in tensors.items()}
    save_file(data, path, metadata={"torch": torch.__version__,
                                    "generator": "tools/reference/make_efficientnet_fixtures.py"})
    print(f"efficientnet_lite: {len(data)} tensors, {os.path.getsize(path) / 1024:.0f} KiB, "
          f"output {tuple(tensors['eval.even'].shape)} / {tuple(tensors['eval.odd'].shape)}")


if __name__ == "__main__":
    main()
