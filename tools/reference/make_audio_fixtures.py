"""Writes the librosa reference fixtures of av-audio.

Command (from the repository root, in the pinned environment of requirements.txt):
    python3 tools/reference/make_audio_fixtures.py
Output: crates/av-audio/tests/fixtures/librosa_reference.safetensors (float32 tensors; the
__metadata__ records the versions). The input signals are NOT stored: the Rust tests rebuild them
with the twin of signals.py.

References: librosa 0.11 with pad_mode='reflect' (the paper used librosa 0.7, whose default
was reflect), computed in float64 from the float32 signals. The log-frequency warp is checked
against an independent numpy implementation of torch.nn.functional.grid_sample (bilinear, zeros
padding, align_corners=True as in PyTorch 0.4) on Sound-of-Pixels' float32 grid.
"""
import os
import sys

import librosa
import numpy as np
import scipy
from safetensors.numpy import save_file

sys.path.insert(0, os.path.dirname(__file__))
from signals import SR, signal, warp_input  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "av-audio", "tests", "fixtures",
                   "librosa_reference.safetensors")


def logmel(x):
    s = librosa.feature.melspectrogram(y=x.astype(np.float64), sr=SR, n_fft=882, hop_length=441,
                                       n_mels=64, pad_mode="reflect")
    return np.log(s + np.spacing(1)).T


def stft(x, n_fft, hop):
    return librosa.stft(x.astype(np.float64), n_fft=n_fft, hop_length=hop, pad_mode="reflect")


def as_pairs(z):
    return np.stack([z.real, z.imag], axis=-1)


def sop_grid(h_out, w_out, warp):
    """Sound-of-Pixels utils.py:warpgrid (one batch item): (H, W, 2) float32, [..., 0] = x."""
    x = np.linspace(-1, 1, w_out)
    y = np.linspace(-1, 1, h_out)
    xv, yv = np.meshgrid(x, y)
    if warp:
        gy = (np.power(21, (yv + 1) / 2) - 11) / 10
    else:
        gy = np.log(yv * 10 + 11) / np.log(21) * 2 - 1
    return np.stack([xv, gy], axis=-1).astype(np.float32)


def grid_sample_bilinear_zeros_align(img, grid):
    """torch grid_sample(bilinear, padding_mode='zeros', align_corners=True) for one channel."""
    h, w = img.shape
    gx, gy = grid[..., 0], grid[..., 1]
    ix = ((gx + np.float32(1)) / np.float32(2)) * np.float32(w - 1)
    iy = ((gy + np.float32(1)) / np.float32(2)) * np.float32(h - 1)
    x0, y0 = np.floor(ix), np.floor(iy)
    out = np.zeros(grid.shape[:2], dtype=np.float64)
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wx = (ix - x0) if dx else (x0 + 1 - ix)
            wy = (iy - y0) if dy else (y0 + 1 - iy)
            ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            vals = np.where(ok, img[np.clip(yi, 0, h - 1).astype(int), np.clip(xi, 0, w - 1).astype(int)], 0)
            out += wx * wy * vals
    return out.astype(np.float32)


def main():
    t = {}
    # Mel filterbanks (dense, (n_mels, 1 + n_fft // 2)).
    t["mel/slaney_paper"] = librosa.filters.mel(sr=SR, n_fft=882, n_mels=64, dtype=np.float64)
    t["mel/htk_16k_512_40_nonorm"] = librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=20.0,
                                                         fmax=7600.0, htk=True, norm=None, dtype=np.float64)
    t["mel/slaney_11k_1022_32_band"] = librosa.filters.mel(sr=11025, n_fft=1022, n_mels=32, fmin=100.0,
                                                           fmax=5000.0, dtype=np.float64)
    # Log-mels (T, 64).
    for name in ["chirp5s", "noise5s", "silence5s", "tones_odd", "noise_short", "quiet_chirp"]:
        t[f"logmel/{name}"] = logmel(signal(name))
    # STFT (F, T, 2) and iSTFT.
    x = signal("mix8000")
    for n_fft, hop in [(882, 441), (1022, 256)]:
        z = stft(x, n_fft, hop)
        t[f"stft/mix8000_{n_fft}_{hop}"] = as_pairs(z)
        t[f"istft/mix8000_{n_fft}_{hop}"] = librosa.istft(z, hop_length=hop, n_fft=n_fft)
        t[f"istft/mix8000_{n_fft}_{hop}_len8000"] = librosa.istft(z, hop_length=hop, n_fft=n_fft, length=8000)
        t[f"istft/mix8000_{n_fft}_{hop}_len7000"] = librosa.istft(z, hop_length=hop, n_fft=n_fft, length=7000)
    # Log-frequency warp and unwarp.
    mag = warp_input(512, 8)
    t["warp/input_512x8"] = mag
    t["warp/warped_256x8"] = grid_sample_bilinear_zeros_align(mag, sop_grid(256, 8, warp=True))
    mask = np.ascontiguousarray(mag[:256])
    t["warp/unwarped_512x8"] = grid_sample_bilinear_zeros_align(mask, sop_grid(512, 8, warp=False))

    tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in t.items()}
    meta = {"librosa": librosa.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "generator": "tools/reference/make_audio_fixtures.py"}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(tensors, OUT, metadata=meta)
    size = os.path.getsize(OUT)
    print(f"wrote {len(tensors)} tensors, {size / 1024:.0f} KiB -> {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
