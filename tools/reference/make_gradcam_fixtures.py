"""Writes the reference fixtures of av-gradcam: pytorch-grad-cam's GradCAM / GradCAMPlusPlus on a tiny net.

Pinned environment (never used by CI):
    torch==2.9.1 (default PyPI wheel 2.9.1+cu128, run on CPU), torchvision==0.24.1, numpy==2.2.6,
    safetensors==0.6.2, grad-cam==1.5.7 (pytorch_grad_cam), opencv-python-headless==5.0.0.93, ttach==0.0.3, Python 3.11
Command (from the repository root):
    python3 -m venv /tmp/venv-torch && /tmp/venv-torch/bin/pip install torch==2.9.1 torchvision==0.24.1 \\
        safetensors==0.6.2 numpy==2.2.6
    printf 'torch==2.9.1\\ntorchvision==0.24.1\\nnumpy==2.2.6\\n' > /tmp/c.txt
    /tmp/venv-torch/bin/pip install grad-cam==1.5.7 -c /tmp/c.txt   # the constraints keep pip off torch
    /tmp/venv-torch/bin/python tools/reference/make_gradcam_fixtures.py
Output: crates/av-gradcam/tests/fixtures/gradcam.safetensors (float32, C-contiguous).

Network (float32, eval mode, no BN; weights 0.3 randn, biases 0.1 randn; torch.manual_seed(0)):
    stem  = Conv2d(3, 8, 3, stride 2, padding 1) -> ReLU                       12x12 -> 6x6
    block = Conv2d(8, 8, 3, padding 1) -> block_relu (ReLU, not in place)     = target layer A [N,8,6,6]
    head  = Conv2d(8, 8, 3, padding 1) -> ReLU -> global average pool -> fc = Linear(8, 4)
Keys: w.<state_dict key> (w.stem.weight, w.stem.bias, w.block.*, w.head.*, w.fc.*), in.x [2,3,12,12],
act.A [2,8,6,6], out.logits [2,4]; for every class c in 0..4:
    grads.c{c}             [2,8,6,6] d logit[n,c] / d A[n]   (raw fc output, no sigmoid/softmax)
    gradcam_weights.c{c}   [2,8]     mean over the 6x6 positions of grads
    gradcam_raw.c{c}       [2,6,6]   relu(sum_k w_k A_k), before any normalisation
    gradcam.c{c}           [2,12,12] GradCAM(model, [model.block_relu])(x, targets) -- library output
    gradcampp_weights.c{c} [2,8]     the Grad-CAM++ channel weights (library formula, see below)
    gradcampp_raw.c{c}     [2,6,6]   relu(sum_k w_k A_k) with the Grad-CAM++ weights
    gradcampp.c{c}         [2,12,12] GradCAMPlusPlus(model, [model.block_relu])(x, targets) -- library
grads / weights / raw maps are computed by hand in float64 (torch.autograd on a float64 copy of the
net) and asserted against the library (which works in float32): cams within 1e-5.
Plain CAM is not defined for this net (the head is not linear in A), so there is no cam.* key.

What pytorch-grad-cam 1.5.7 does (base_cam.py, grad_cam.py, grad_cam_plusplus.py, utils/image.py):
 1. model.eval(); forward hooks on the target layer store its output A (detached, float32) and
    register a tensor hook that stores dA. targets = [ClassifierOutputTarget(c)] * N (one target PER
    IMAGE: the list is zip()-ed with the batch, so a single-element list would silently keep only
    image 0 in the loss). loss = sum_n logits[n, c] (the summed batch score), loss.backward().
    Images do not interact (no BN, eval), so dA[n] = d logit[n,c] / d A[n].
 2. Grad-CAM weights: w[n,k] = mean_{h,w} dA[n,k,h,w] (numpy float32).
    Grad-CAM++ weights (Eq. 19 of arXiv:1710.11063 as coded): g = dA, g2 = g**2, g3 = g2*g,
    sumA[n,k] = sum_{h,w} A[n,k,h,w] (the sum of the activations alone, broadcast over positions),
    alpha = g2 / (2*g2 + sumA * g3 + 1e-6); alpha = where(g != 0, alpha, 0);
    w[n,k] = sum_{h,w} max(g, 0) * alpha.
 3. cam[n] = sum_k w[n,k] A[n,k]  -> cam = max(cam, 0)  (ReLU).
 4. scale_cam_image(cam, (W_in, H_in)) per image, in float32:
        img = img - min(img); img = img / (1e-7 + max(img));
        img = cv2.resize(float32(img), (W_in, H_in))     # dsize = (width, height); default INTER_LINEAR
 5. aggregate_multi_layers: stack over target layers (one here), max(., 0), mean over layers, then
    scale_cam_image AGAIN without resizing: img = img - min(img); img = img / (1e-7 + max(img)).
    So the output is min-max normalised twice: once at 6x6 (before the resize) and once at 12x12.
 cv2.resize INTER_LINEAR uses half-pixel centres (src = (dst + 0.5) * in/out - 0.5, clamped to the
 border, i.e. replicate), which for upsampling equals F.interpolate(mode='bilinear',
 align_corners=False); this script checks that equality on every map.
 A cam that is 0 everywhere (all of sum_k w_k A_k <= 0) stays 0: 0 - 0 = 0, 0 / (1e-7 + 0) = 0.
 A constant positive cam v becomes 0 as well (min subtraction). Otherwise the max is
 (M - m) / (M - m + 1e-7) < 1 after the first pass and ~ 1 - 1e-7 after the second.
"""
import os

import cv2
import numpy as np
import pytorch_grad_cam
import torch
import torch.nn as nn
import torch.nn.functional as F
from pytorch_grad_cam import GradCAM, GradCAMPlusPlus
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from safetensors.numpy import load_file, save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "av-gradcam", "tests", "fixtures")
torch.set_num_threads(2)
NUM_CLASSES = 4


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True)
        self.stem_relu = nn.ReLU()
        self.block = nn.Conv2d(8, 8, 3, stride=1, padding=1, bias=True)
        self.block_relu = nn.ReLU()
        self.head = nn.Conv2d(8, 8, 3, stride=1, padding=1, bias=True)
        self.head_relu = nn.ReLU()
        self.fc = nn.Linear(8, NUM_CLASSES, bias=True)

    def features(self, x):
        return self.block_relu(self.block(self.stem_relu(self.stem(x))))

    def classify(self, a):
        return self.fc(self.head_relu(self.head(a)).mean(dim=(2, 3)))

    def forward(self, x):
        return self.classify(self.features(x))


def f32(t):
    a = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
    return np.ascontiguousarray(a.astype(np.float32))


def minmax(img):
    img = img - img.min()
    return img / (1e-7 + img.max())


def hand_cam(raw, size):
    """The library's post-processing (steps 3-5), with torch's bilinear resize instead of cv2."""
    out = []
    for img in raw:                                   # float64 [h, w], already ReLU-ed
        img = minmax(img)
        img = F.interpolate(img[None, None], size=size, mode="bilinear", align_corners=False)[0, 0]
        out.append(minmax(torch.clamp(img, min=0)))
    return torch.stack(out)


def gradpp_weights(a, g):
    """pytorch_grad_cam.GradCAMPlusPlus.get_cam_weights, in torch float64."""
    g2 = g ** 2
    g3 = g2 * g
    sum_a = a.sum(dim=(2, 3), keepdim=True)
    alpha = g2 / (2 * g2 + sum_a * g3 + 1e-6)
    alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
    return (torch.clamp(g, min=0) * alpha).sum(dim=(2, 3))


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    net = Net()
    with torch.no_grad():
        for name, p in net.named_parameters():
            scale = 0.3 if name.endswith("weight") else 0.1
            p.copy_(torch.randn(p.shape, generator=gen) * scale)
    net.eval()
    x = torch.randn(2, 3, 12, 12, generator=gen)
    n = x.shape[0]

    net64 = Net().double().eval()
    net64.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    x64 = x.double()
    with torch.no_grad():
        act64 = net64.features(x64)
        logits32 = net(x)
    a64 = act64.clone().requires_grad_(True)
    logits64 = net64.classify(a64)
    assert torch.allclose(logits64.float(), logits32, atol=1e-5)

    tensors = {f"w.{k}": f32(v) for k, v in net.state_dict().items()}
    tensors.update({"in.x": f32(x), "act.A": f32(act64), "out.logits": f32(logits64)})

    # cv2's INTER_LINEAR == F.interpolate(bilinear, align_corners=False) for this 6 -> 12 upsampling
    probe = np.random.default_rng(0).standard_normal((6, 6)).astype(np.float32)
    via_cv2 = cv2.resize(probe, (12, 12))
    via_torch = F.interpolate(torch.from_numpy(probe)[None, None], size=(12, 12), mode="bilinear",
                              align_corners=False)[0, 0].numpy()
    assert np.abs(via_cv2 - via_torch).max() < 1e-6, np.abs(via_cv2 - via_torch).max()

    cams = {"gradcam": GradCAM(model=net, target_layers=[net.block_relu]),
            "gradcampp": GradCAMPlusPlus(model=net, target_layers=[net.block_relu])}
    report = []
    for c in range(NUM_CLASSES):
        (grads,) = torch.autograd.grad(logits64[:, c].sum(), a64, retain_graph=True)
        w_gc = grads.mean(dim=(2, 3))
        w_pp = gradpp_weights(act64, grads)
        tensors[f"grads.c{c}"] = f32(grads)
        for kind, w in (("gradcam", w_gc), ("gradcampp", w_pp)):
            raw = torch.relu((w[:, :, None, None] * act64).sum(1))
            lib = cams[kind](input_tensor=x, targets=[ClassifierOutputTarget(c)] * n)
            # the library's own intermediate values, captured by its hooks during that call
            lib_a = cams[kind].activations_and_grads.activations[0].double()
            lib_g = cams[kind].activations_and_grads.gradients[0].double()
            lib_w = torch.from_numpy(cams[kind].get_cam_weights(x, None, None, lib_a.float().numpy(),
                                                                 lib_g.float().numpy())).double()
            assert torch.allclose(lib_a, act64, atol=1e-5) and torch.allclose(lib_g, grads, atol=1e-5)
            assert torch.allclose(lib_w, w, rtol=1e-4, atol=1e-6), (kind, c, lib_w, w)
            mine = hand_cam(raw, (12, 12))
            err = np.abs(mine.numpy() - lib).max()
            assert err < 1e-5, (kind, c, err)
            tensors[f"{kind}.c{c}"] = f32(lib)
            tensors[f"{kind}_weights.c{c}" if kind == "gradcampp" else f"gradcam_weights.c{c}"] = f32(w)
            tensors[f"{kind}_raw.c{c}"] = f32(raw)
            report.append(f"  c{c} {kind:9s}: raw max per image {raw.amax(dim=(1, 2)).tolist()}, "
                          f"|lib - hand| = {err:.2e}, lib max {lib.max(axis=(1, 2)).tolist()}")

    for k, v in tensors.items():
        assert v.dtype == np.float32 and v.flags["C_CONTIGUOUS"] and np.isfinite(v).all(), k
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "gradcam.safetensors")
    # one metadata key: safetensors writes metadata in hash-map order, so several keys would make
    # the file bytes differ from run to run
    save_file(tensors, path, metadata={"generator": "tools/reference/make_gradcam_fixtures.py, "
                                                    f"torch {torch.__version__}, grad-cam 1.5.7, "
                                                    f"opencv {cv2.__version__}"})
    back = load_file(path)
    assert back.keys() == tensors.keys() and all(np.array_equal(back[k], tensors[k]) for k in back)
    print(f"pytorch_grad_cam from {os.path.dirname(pytorch_grad_cam.__file__)}, cv2 {cv2.__version__}")
    print("\n".join(report))
    print(f"gradcam: {len(back)} tensors, {os.path.getsize(path) / 1024:.0f} KiB")
    for k in sorted(back):
        v = back[k]
        print(f"  {k:24s} {str(list(v.shape)):14s} {np.array2string(v.ravel()[:3], precision=5)}")


if __name__ == "__main__":
    main()
