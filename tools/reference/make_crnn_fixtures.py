"""Writes the PyTorch reference fixtures of av-backbones' CRNN and Fig. 3 AVC head.

Command (from the repository root; torch is a ~3 GB install, never used by CI):
    python3 -m venv /work/venv-torch && /work/venv-torch/bin/pip install torch==2.9.1 safetensors==0.6.2 numpy==2.2.6
    /work/venv-torch/bin/python tools/reference/make_crnn_fixtures.py
Output: crates/av-backbones/tests/fixtures/{crnn,discrim_head}.safetensors, each holding the
network's weights ("w." prefix), the inputs ("in.*") and the outputs in eval mode (BN running
statistics, "eval.*") and train mode (batch statistics, "train.*").

Weight keys: the PyTorch state_dict keys of the reference modules, which the Rust side maps with
`MOBILECRNN_KEY_REMAPS` / `DISCRIM_HEAD_KEY_REMAPS` (regex remaps, as for a real checkpoint),
except the GRU: PyTorch stacks the three gates of each direction into one tensor
(`gru.rnn.weight_ih_l0` = [W_ir; W_iz; W_in], shape [3H, D], and `_reverse` for the backward
direction), which a regex cannot split, so `gru_to_burn` below splits it into Burn's
`BiGru` naming. Run `gru_to_burn` on a real `mobilecrnn_v2.pth` state_dict the same way.

The modules are re-typed from shvdiwnkozbw/Multi-Source-Sound-Localization (no licence file in
the repository; structure only): `mobile_crnn/models/crnn.py` (`MobileCRNN`, `InvertedResidual`,
`ConvBNReLU`, `Swish`, `BiGRU`, `LinearSoftPool`; `mobilecrnn_v2` layout) and
`model/detector.py:614-702` (`DiscrimHead`, Flickr) with the AudioSet pooling of
`model/audioset_detector.py:436-516`. They are reduced-width twins (CRNN base width 4 instead of
64 with GRU hidden 16 instead of 128; AVC head 16 channels and hidden 8 instead of 512 / 128), so
the fixtures stay small; BN parameters and running statistics are randomised so that eval mode
is not an identity.
"""
import copy
import os

import numpy as np
import torch
import torch.nn as nn
from safetensors.numpy import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "av-backbones", "tests", "fixtures")
torch.set_num_threads(2)


# ---- mobile_crnn/models/crnn.py -----------------------------------------------------------------
class ConvBNReLU(nn.Sequential):
    def __init__(self, in_planes, out_planes, kernel_size=3, stride=1, groups=1):
        padding = (kernel_size - 1) // 2
        super().__init__(
            nn.Conv2d(in_planes, out_planes, kernel_size, stride, padding, groups=groups, bias=False),
            nn.BatchNorm2d(out_planes),
            nn.ReLU6(inplace=True))


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio):
        super().__init__()
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = self.stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU(inp, hidden_dim, kernel_size=1))  # pw
        layers.extend([
            ConvBNReLU(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim),  # dw
            nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),  # pw-linear
            nn.BatchNorm2d(oup),
        ])
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class BiGRU(nn.Module):
    def __init__(self, inputdim, outputdim, bidirectional=True):
        super().__init__()
        self.rnn = nn.GRU(inputdim, outputdim, bidirectional=bidirectional, batch_first=True)

    def forward(self, x):
        x, hid = self.rnn(x)
        return x, (hid,)


class LinearSoftPool(nn.Module):
    def __init__(self, pooldim=1):
        super().__init__()
        self.pooldim = pooldim

    def forward(self, logits, decision):
        return (decision ** 2).sum(self.pooldim) / decision.sum(self.pooldim)


class MobileCRNN(nn.Module):
    """`MobileCRNN` with `mobilecrnn_v2`'s layout; `gru_hidden` is 128 in the reference."""

    def __init__(self, inputdim, outputdim, gru_hidden=128, **kwargs):
        super().__init__()
        filters = [1] + kwargs["filters"]
        kernels, paddings, strides, poolings = (kwargs["kernels"], kwargs["padding"], kwargs["strides"],
                                                kwargs["pooling"])
        features = nn.ModuleList()
        for h0, h1, kernel_size, padding, pooling, stride in zip(filters, filters[1:], kernels, paddings,
                                                                 poolings, strides):
            if h0 == 1:
                features.append(nn.Sequential(
                    nn.BatchNorm2d(h0),
                    nn.Conv2d(h0, h1, kernel_size=kernel_size, padding=padding, stride=stride),
                    Swish()))
            else:
                features.append(InvertedResidual(h0, h1, 1, expand_ratio=6))
            if np.prod(pooling) > 1:  # just dont append if its (1,1)
                features.append(nn.MaxPool2d(pooling))
        self.features = nn.Sequential(*features)
        with torch.no_grad():
            rnn_input_dim = self.features(torch.randn(1, 1, 500, inputdim)).shape
            rnn_input_dim = rnn_input_dim[1] * rnn_input_dim[-1]
        self.gru = BiGRU(inputdim=rnn_input_dim, outputdim=gru_hidden)
        self.temp_pool = LinearSoftPool(pooldim=1)
        self.outputlayer = nn.Linear(2 * gru_hidden, outputdim)

    def forward(self, x, mode='all'):
        if mode == 'embed':
            x = x.unsqueeze(1)
            return self.features(x)
        if mode == 'cont':
            x = x.transpose(1, 2).contiguous().flatten(-2)
            x, _ = self.gru(x)
            decision_time = torch.sigmoid(self.outputlayer(x))
            decision_time = torch.clamp(decision_time, min=1e-7, max=1.)
            decision = self.temp_pool(x, decision_time).squeeze(1)
            decision = torch.clamp(decision, min=1e-7, max=1.)
            return decision, decision_time
        raise ValueError(mode)


def mobilecrnn_v2_twin(width, outputdim, gru_hidden):
    """`mobilecrnn_v2` (crnn.py:27-45) with filters scaled by width / 64."""
    w = width
    return MobileCRNN(64, outputdim, gru_hidden=gru_hidden, **{
        "filters": [w, w, 2 * w, 2 * w, 4 * w, 4 * w, 8 * w, 8 * w],
        "kernels": [5, 3, 3, 3, 3, 3, 3, 3],
        "padding": [2, 1, 1, 1, 1, 1, 1, 1],
        "strides": [2, 1, 1, 1, 1, 1, 1, 1],
        "pooling": [[2], [1, 2], [1, 1], [1, 2], [1], [1, 2], [1], [1], [1]],
    })


def gru_to_burn(state, prefix="gru.rnn.", out_prefix="gru."):
    """Splits PyTorch's stacked GRU tensors into Burn's `BiGru` naming.

    PyTorch (gate order r, z, n): `{weight_ih,weight_hh}_l0[_reverse]` [3H, D] / [3H, H],
    `{bias_ih,bias_hh}_l0[_reverse]` [3H]. Burn: `{forward,reverse}.{reset,update,new}_gate.
    {input,hidden}_transform.{weight,bias}`, weights kept in PyTorch's [out, in] layout (burn-store's
    PyTorchToBurnAdapter transposes them, as for any Linear). Both conventions apply the reset gate
    after the hidden matmul (n = tanh(W_in x + b_in + r * (W_hn h + b_hn))), so nothing else changes.
    """
    out = {}
    for key, tensor in state.items():
        if not key.startswith(prefix):
            out[key] = tensor
            continue
        name = key[len(prefix):]
        direction = "reverse" if name.endswith("_reverse") else "forward"
        name = name.removesuffix("_reverse")
        kind, which, layer = name.split("_")  # e.g. weight, ih, l0
        assert layer == "l0", key
        transform = {"ih": "input_transform", "hh": "hidden_transform"}[which]
        for gate, chunk in zip(["reset_gate", "update_gate", "new_gate"], tensor.chunk(3, dim=0)):
            out[f"{out_prefix}{direction}.{gate}.{transform}.{kind}"] = chunk.contiguous()
    return out


# ---- model/detector.py:614-702 (DiscrimHead) ----------------------------------------------------
class DiscrimHead(nn.Module):
    """`DiscrimHead` with its hard-coded 512 channels and hidden 128 as parameters; `layer` is
    the visual `spa_conv` (MSSL: ResNet `layer5`), `audioset` selects the AudioSet temp_pool."""

    def __init__(self, mix, frames, layer, channel=512, hidden=128, audioset=False):
        super().__init__()
        self.mix = mix
        self.frames = frames
        self.channel = channel
        self.audioset = audioset
        c = channel
        self.temp_conv = nn.Sequential(
            nn.Conv2d(c, c, kernel_size=(3, 1), dilation=(2, 1), padding=(2, 0), stride=1, bias=False),
            nn.BatchNorm2d(c, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True),
            nn.MaxPool2d(kernel_size=(2, 1), stride=(2, 1), padding=0),
            nn.ReLU(True),
            nn.Conv2d(c, c, kernel_size=(1, 2), padding=0, stride=(1, 2), bias=False),
            nn.BatchNorm2d(c, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True),
            nn.ReLU(True),
            nn.Conv2d(c, c, kernel_size=(3, 1), padding=(1, 0), stride=1, bias=False),
            nn.BatchNorm2d(c, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True),
            nn.MaxPool2d(kernel_size=(2, 1), stride=(2, 1), padding=0),
            nn.ReLU(True)
        )
        self.spa_conv = layer
        self.spa_pool = nn.AdaptiveMaxPool2d((1, 1))
        self.temp_pool = nn.AdaptiveMaxPool2d((1, 1) if audioset else (self.frames, 1))
        # transform_a / transform_v (docs/reference_implementation.md §3.5) are part of the state_dict, not of forward().
        self.transform_a = nn.Sequential(nn.Linear(c, hidden), nn.ReLU(True), nn.Linear(hidden, hidden),
                                         nn.BatchNorm1d(hidden))
        self.transform_v = nn.Sequential(nn.Linear(c, hidden), nn.ReLU(True), nn.Linear(hidden, hidden),
                                         nn.BatchNorm1d(hidden))
        self.discrim = nn.Sequential(nn.Linear(2 * self.channel, hidden), nn.ReLU(True), nn.Linear(hidden, 2))

    def forward(self, audio, visual):
        feat_a = self.temp_conv(audio)
        feat_v = self.spa_conv(visual)
        embed_a = self.temp_pool(feat_a)
        if self.audioset:
            embed_a = embed_a.repeat([1, 1, self.frames, 1])
        embed_v = self.spa_pool(feat_v)
        embed_a = embed_a.view(-1, self.channel, self.frames).permute(0, 2, 1).contiguous()
        embed_v = embed_v.view(-1, self.frames, embed_v.shape[1])
        embed_co = torch.cat([embed_a, embed_v], -1)
        common = self.discrim(embed_co)
        differ = None
        if self.mix != 1 and self.frames == 1:  # the random frames > 1 negatives are not reproducible
            segments = embed_a.shape[0]
            differ = [None] * segments
            for seg in range(segments):
                rank = seg + 1 if seg % 2 == 0 else seg - 1
                differ[seg] = torch.cat([embed_a[seg, :, :], embed_v[rank, :, :]], -1)
            differ = self.discrim(torch.stack(differ, 0))
        return common, differ, feat_a, embed_a, embed_v


# ---- helpers ------------------------------------------------------------------------------------
def randomise_bn(net, gen):
    for m in net.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
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
              metadata={"torch": torch.__version__, "generator": "tools/reference/make_crnn_fixtures.py"})
    print(f"{name}: {len(data)} tensors, {os.path.getsize(path) / 1024:.0f} KiB")


def main():
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)

    # 1. MobileCRNN (mobilecrnn_v2 layout), base width 4, GRU hidden 16, C = 5 classes, on
    #    2 x 45 x 64 log-mel-sized input: F_a is 32 x 11 x 2 (odd lengths exercise the floors).
    crnn = mobilecrnn_v2_twin(width=4, outputdim=5, gru_hidden=16)
    randomise_bn(crnn, gen)
    x = torch.randn(2, 45, 64, generator=gen)

    def run_crnn(n):
        feat = n(x, 'embed')
        clip, frames = n(feat, 'cont')
        return {"features": feat, "frame_probs": frames, "clip_probs": clip}
    save("crnn", {**weights(gru_to_burn(crnn.state_dict())), "in.x": x.unsqueeze(1),
                  **both_modes(crnn, run_crnn)})

    # 2. DiscrimHead, 16 channels, hidden 8, spa_conv = identity (E_v is an input here; ResNet
    #    layer5 has its own fixture). 4 clips (mix = 2), F_a 16 x 27 x 2 -> E_a 16 x 6 x 1.
    c = 16
    head = DiscrimHead(mix=2, frames=1, layer=nn.Identity(), channel=c, hidden=8)
    randomise_bn(head, gen)
    f_a = torch.randn(4, c, 27, 2, generator=gen)
    e_v1 = torch.randn(4, c, 4, 4, generator=gen)      # frames = 1: one frame per clip
    e_v3 = torch.randn(4 * 3, c, 4, 4, generator=gen)  # frames = 3: clip-major, frame-minor
    head3 = copy.deepcopy(head)  # same weights, frames = 3 (adaptive bins over 6 steps: 0-2, 2-4, 4-6)
    head3.frames, head3.temp_pool = 3, nn.AdaptiveMaxPool2d((3, 1))
    head4 = copy.deepcopy(head)  # frames = 4 (overlapping bins 0-2, 1-3, 3-5, 4-6)
    head4.frames, head4.temp_pool = 4, nn.AdaptiveMaxPool2d((4, 1))
    e_v4 = torch.randn(4 * 4, c, 4, 4, generator=gen)
    head_as = copy.deepcopy(head)  # AudioSet: global max pool repeated over the 3 frames
    head_as.frames, head_as.audioset, head_as.temp_pool = 3, True, nn.AdaptiveMaxPool2d((1, 1))

    class All(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleList([head, head3, head4, head_as])

        def forward(self):
            common1, differ1, e_a, embed_a1, embed_v1 = self.heads[0](f_a, e_v1)
            common3 = self.heads[1](f_a, e_v3)[0]
            common4 = self.heads[2](f_a, e_v4)[0]
            common_as = self.heads[3](f_a, e_v3)[0]
            return {"e_a": e_a, "audio1": embed_a1, "visual1": embed_v1, "common1": common1,
                    "differ1": differ1, "common3": common3, "common4": common4, "common_audioset": common_as}
    save("discrim_head", {**weights(head.state_dict()), "in.f_a": f_a, "in.e_v1": e_v1, "in.e_v3": e_v3,
                          "in.e_v4": e_v4, **both_modes(All(), lambda n: n())})


if __name__ == "__main__":
    main()
