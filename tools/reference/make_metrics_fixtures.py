#!/usr/bin/env python3
"""Reference fixtures of av-metrics, from the reference implementations themselves.

Pins (the versions these fixtures were made with):
    python 3.11, numpy==2.2.6, scipy==1.15.3, scikit-learn==1.9.1, mir_eval==0.8.2,
    safetensors==0.6.2 (tools/reference/requirements.txt lists scikit-learn==1.7.2; the venv
    these fixtures came from had 1.9.1; auc and average_precision_score are used)

Command (from the repository root):
    pip install numpy==2.2.6 scipy==1.15.3 scikit-learn==1.9.1 mir_eval==0.8.2 safetensors==0.6.2
    python tools/reference/make_metrics_fixtures.py

Writes crates/av-metrics/tests/fixtures/metrics_reference.safetensors (about 0.95 MB), read by
crates/av-metrics/tests/{bss_eval_mir_eval.rs, localization_reference.rs}.

Contents (inputs stored as float32, every reference value computed in float64 from those
float32 values; integer tensors are int64):
* bss/<case>/{ref,est,sdr,sir,sar,perm}: mir_eval.separation.bss_eval_sources(ref, est,
  compute_permutation=False); bss/<case>/perm_{sdr,sir,sar,perm}: the same with
  compute_permutation=True (cases whose estimates are shuffled); bss/<case>/sdr_mix: the mixture
  baseline (every estimate = ref.sum(0)) where present.
* bss/long/*: 2 sources x 65 280 samples, NOT stored: regenerated in Rust from the formula in
  `long_case()` (SplitMix64 noise + sines; see crates/av-rng/src/lib.rs); only checksums of
  the float32 signals and mir_eval's results are stored.
* auc/*: sklearn.metrics.auc on MSSL's success curve of cIoU lists, and on raw curves.
* ciou/*: score maps, 1-based MSSL boxes, the consensus GT of new/testdata.py and the cIoU of
  MSSL new/cal_metric.py (map > t), gtscore.py (map >= t), utils/evaluate.py (> 0.1 max) and
  LVS test.py (median rule), transcribed below.
* class/*: per-class maps and COCO boxes, the frame scores of MSSL utils/evaluate.py:class_eval
  (silent objects removed, any number of classes).
* retrieval/*: embeddings, labels, recall@k and mAP (sklearn.metrics.average_precision_score).
"""

import os
import sys

import mir_eval
import numpy as np
import scipy.signal
import sklearn.metrics
from safetensors.numpy import save_file

OUT = os.path.normpath(os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "..", "crates", "av-metrics", "tests", "fixtures", "metrics_reference.safetensors",
))

GAMMA = np.uint64(0x9E3779B97F4A7C15)
M1 = np.uint64(0xBF58476D1CE4E5B9)
M2 = np.uint64(0x94D049BB133111EB)


def splitmix_uniform(seed, n):
    """Outputs 0..n of SplitMix64(seed).next_f64() (crates/av-rng/src/lib.rs)."""
    with np.errstate(over="ignore"):
        k = np.arange(1, n + 1, dtype=np.uint64)
        z = np.uint64(seed) + k * GAMMA
        z = (z ^ (z >> np.uint64(30))) * M1
        z = (z ^ (z >> np.uint64(27))) * M2
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * (1.0 / 2.0**53)


def long_case():
    """The 2 x 65 280 case; mirrored by `long_case()` in tests/integration/bss_eval_mir_eval.rs."""
    n = 65280
    t = np.arange(n, dtype=np.float64)
    sr = 11025.0
    u = [2.0 * splitmix_uniform(seed, n) - 1.0 for seed in (1, 2, 3, 4)]
    s0 = 0.5 * np.sin(2.0 * np.pi * 440.0 * t / sr) + 0.3 * u[0]
    s1 = 0.4 * np.sin(2.0 * np.pi * 1234.5 * t / sr + 0.3) * (1.0 + 0.5 * np.sin(2.0 * np.pi * 3.0 * t / sr)) + 0.3 * u[1]
    s0 = s0.astype(np.float32)
    s1 = s1.astype(np.float32)
    e0 = (s0.astype(np.float64) + 0.2 * s1.astype(np.float64) + 0.05 * u[2]).astype(np.float32)
    e1 = (0.8 * s1.astype(np.float64) + 0.3 * s0.astype(np.float64) + 0.05 * u[3]).astype(np.float32)
    mix = (s0.astype(np.float64) + s1.astype(np.float64)).astype(np.float32)
    return np.stack([s0, s1]), np.stack([e0, e1]), mix


def bss(ref32, est32, perm):
    sdr, sir, sar, p = mir_eval.separation.bss_eval_sources(
        ref32.astype(np.float64), est32.astype(np.float64), compute_permutation=perm
    )
    return sdr, sir, sar, p


def add_bss(out, name, ref, est, *, perm_est=None, mixture=False):
    ref32 = np.ascontiguousarray(ref, dtype=np.float32)
    est32 = np.ascontiguousarray(est, dtype=np.float32)
    out[f"bss/{name}/ref"] = ref32
    out[f"bss/{name}/est"] = est32
    sdr, sir, sar, p = bss(ref32, est32, False)
    out[f"bss/{name}/sdr"], out[f"bss/{name}/sir"], out[f"bss/{name}/sar"] = sdr, sir, sar
    out[f"bss/{name}/perm"] = np.asarray(p, dtype=np.int64)
    if perm_est is not None:
        pe32 = np.ascontiguousarray(perm_est, dtype=np.float32)
        out[f"bss/{name}/perm_est"] = pe32
        sdr, sir, sar, p = bss(ref32, pe32, True)
        out[f"bss/{name}/perm_sdr"], out[f"bss/{name}/perm_sir"], out[f"bss/{name}/perm_sar"] = sdr, sir, sar
        out[f"bss/{name}/perm_perm"] = np.asarray(p, dtype=np.int64)
    if mixture:
        mix = ref32.astype(np.float64).sum(0).astype(np.float32)
        out[f"bss/{name}/mix"] = mix
        sdr, _, _, _ = bss(ref32, np.stack([mix] * ref32.shape[0]), False)
        out[f"bss/{name}/sdr_mix"] = sdr
    print(f"bss/{name}: sdr {out[f'bss/{name}/sdr']}", file=sys.stderr)


def fir(x, taps, delay):
    y = np.convolve(x, taps)[: len(x)]
    return np.concatenate([np.zeros(delay), y[: len(x) - delay]])


def bss_cases(out):
    rng = np.random.default_rng(2020)
    # Random sources, instantaneous mixing plus noise.
    ref = rng.standard_normal((2, 4000))
    est = np.array([[1.0, 0.3], [0.2, 0.9]]) @ ref + 0.1 * rng.standard_normal((2, 4000))
    add_bss(out, "rand2", ref, est, perm_est=est[::-1], mixture=True)
    ref = rng.standard_normal((3, 4000))
    a = np.array([[1.0, 0.3, -0.2], [0.1, 0.8, 0.25], [-0.3, 0.2, 1.1]])
    est = a @ ref + 0.1 * rng.standard_normal((3, 4000))
    add_bss(out, "rand3", ref, est, perm_est=est[[2, 0, 1]])
    # Structured: sines + noise, filtered/delayed copies, a delay beyond the 512-tap filters.
    t = np.arange(4000) / 8000.0
    r0 = np.sin(2 * np.pi * 440 * t) + 0.1 * rng.standard_normal(4000)
    r1 = np.sign(np.sin(2 * np.pi * 97 * t)) * 0.5 + 0.1 * rng.standard_normal(4000)
    e0 = fir(r0, [0.6, 0.3, -0.1, 0.05], 7) + 0.2 * r1 + 0.02 * rng.standard_normal(4000)
    e1 = 0.5 * fir(r1, [1.0], 600) + 0.5 * r1 + 0.1 * r0 + 0.02 * rng.standard_normal(4000)
    add_bss(out, "struct2", np.stack([r0, r1]), np.stack([e0, e1]), perm_est=np.stack([e1, e0]))
    t = np.arange(3000) / 8000.0
    chirp = np.sin(2 * np.pi * (200 + 900 * t) * t) + 0.05 * rng.standard_normal(3000)
    am = rng.standard_normal(3000) * (0.5 + 0.5 * np.sin(2 * np.pi * 5 * t))
    saw = ((t * 150) % 1.0 - 0.5) + 0.05 * rng.standard_normal(3000)
    refs = np.stack([chirp, am, saw])
    ests = np.stack([
        fir(chirp, [0.9, -0.2], 3) + 0.3 * am + 0.05 * rng.standard_normal(3000),
        fir(am, [0.5, 0.5, 0.25], 0) + 0.2 * saw + 0.1 * chirp,
        0.7 * saw + fir(saw, [0.3], 40) + 0.4 * rng.standard_normal(3000),
    ])
    add_bss(out, "struct3", refs, ests, perm_est=ests[[1, 2, 0]])
    # Band-limited references (ill-conditioned Gram matrices, as for low-passed or masked audio):
    # Butterworth low-pass at 0.2 and (extreme) 0.05 of Nyquist.
    for name, order, cut in (("lowpass2", 4, 0.2), ("band2", 8, 0.05)):
        b, a = scipy.signal.butter(order, cut)
        ref = scipy.signal.lfilter(b, a, rng.standard_normal((2, 4000)), axis=1)
        ref /= np.abs(ref).max()
        est = np.array([[0.9, 0.2], [0.3, 1.0]]) @ ref + 0.01 * rng.standard_normal((2, 4000))
        add_bss(out, name, ref, est, perm_est=est[::-1])
    # Shorter than the filters (n_fft = 1024).
    ref = rng.standard_normal((2, 300))
    est = ref + 0.5 * ref[::-1] + 0.2 * rng.standard_normal((2, 300))
    add_bss(out, "tiny2", ref, est)
    # One source: SIR = +inf.
    ref = rng.standard_normal((1, 1000))
    add_bss(out, "single", ref, ref + 0.3 * rng.standard_normal((1, 1000)))
    # Long case (regenerated in Rust).
    ref, est, mix = long_case()
    sums = [[float(x.astype(np.float64).sum()), float((x.astype(np.float64) ** 2).sum())]
            for x in (ref[0], ref[1], est[0], est[1], mix)]
    out["bss/long/checksum"] = np.array(sums, dtype=np.float64)
    sdr, sir, sar, p = bss(ref, est, False)
    out["bss/long/sdr"], out["bss/long/sir"], out["bss/long/sar"] = sdr, sir, sar
    sdr_mix, _, _, _ = bss(ref, np.stack([mix, mix]), False)
    out["bss/long/sdr_mix"] = sdr_mix
    print(f"bss/long: sdr {sdr} sdr_mix {sdr_mix}", file=sys.stderr)


def mssl_curve(cious):
    # MSSL new/cal_metric.py:20-26.
    results = []
    for i in range(21):
        result = np.sum(np.array(cious) >= 0.05 * i)
        result = result / len(cious)
        results.append(result)
    x = [0.05 * i for i in range(21)]
    return np.array(results), sklearn.metrics.auc(x, results)


def auc_cases(out):
    rng = np.random.default_rng(7)
    lists = [
        rng.beta(2.0, 2.0, 249),
        np.concatenate([rng.uniform(0, 1, 40), [0.5, 0.15, 0.05 * 3, 0.0, 1.0, 0.45, 0.05 * 9]]),
        rng.beta(0.5, 3.0, 100),
    ]
    for k, c in enumerate(lists):
        curve, auc = mssl_curve(c)
        out[f"auc/list{k}/cious"] = c.astype(np.float64)
        out[f"auc/list{k}/curve"] = curve.astype(np.float64)
        out[f"auc/list{k}/auc"] = np.array([auc])
        out[f"auc/list{k}/success"] = np.array([np.mean(c >= 0.5)])
    curves = [
        (np.sort(rng.uniform(0, 1, 30)), rng.uniform(0, 1, 30)),
        (np.linspace(1, 0, 11), rng.uniform(0, 2, 11)),
        (np.array([0.0, 0.0, 0.5, 0.5, 1.0]), np.array([0.0, 1.0, 1.0, 0.2, 0.9])),
    ]
    for k, (x, y) in enumerate(curves):
        out[f"auc/curve{k}/x"] = x.astype(np.float64)
        out[f"auc/curve{k}/y"] = y.astype(np.float64)
        out[f"auc/curve{k}/auc"] = np.array([sklearn.metrics.auc(x, y)])


def blob_maps(rng, m, h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    maps = []
    for _ in range(m):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        s = rng.uniform(4, 15)
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * s * s))
        noise = 0.3 * rng.uniform(0, 1, (h, w))
        v = blob + noise
        maps.append(v / v.max())
    return np.stack(maps).astype(np.float32)


def ciou_cases(out):
    rng = np.random.default_rng(11)
    m, h, w, kmax = 6, 40, 48, 5
    maps = blob_maps(rng, m, h, w)
    maps[5] = rng.uniform(-1, 1, (h, w)).astype(np.float32)  # signed map
    boxes = np.zeros((m, kmax, 4), dtype=np.int64)
    counts = np.zeros(m, dtype=np.int64)
    gts = np.zeros((m, h, w), dtype=np.float32)
    res = {k: np.zeros(m) for k in ("absolute", "atleast", "relative", "lvs")}
    for i in range(m):
        k = rng.integers(2, kmax + 1)
        counts[i] = k
        gtmap = np.zeros((h, w), dtype=np.float32)
        for j in range(k):
            xmin = rng.integers(1, w - 5)
            ymin = rng.integers(1, h - 5)
            xmax = rng.integers(xmin + 1, w + 1)
            ymax = rng.integers(ymin + 1, h + 1)
            boxes[i, j] = (xmin, ymin, xmax, ymax)
            # MSSL new/testdata.py:64-70.
            gtmap[ymin - 1 : ymax - 1, xmin - 1 : xmax - 1] += 1.0
        gtmap = np.minimum(gtmap / 2.0, np.ones((h, w), dtype=np.float32))
        gts[i] = gtmap
        loc = maps[i]
        # MSSL new/cal_metric.py:6-9 (map > 0.5).
        res["absolute"][i] = np.sum(gtmap[loc > 0.5]) / (np.sum(gtmap) + np.sum(gtmap[loc > 0.5] == 0))
        # MSSL gtscore.py:90-97 (map >= 0.1).
        infer_map = np.zeros((h, w))
        infer_map[loc >= 0.1] = 1
        res["atleast"][i] = np.sum(infer_map * gtmap) / (np.sum(gtmap) + np.sum(infer_map * (gtmap == 0)))
        # The region rule of MSSL utils/evaluate.py:96-106 (> 0.1 max after clamping at 0), scored
        # with the consensus cIoU of new/cal_metric.py (evaluate.py's own formula, which counts
        # pixels of a binary GT, is checked on the class-aware fixtures).
        infer = loc.copy()
        infer[infer < 0] = 0
        pred = infer > 0.1 * np.max(infer)
        res["relative"][i] = np.sum(gtmap[pred]) / (np.sum(gtmap) + np.sum(gtmap[pred] == 0))
        # LVS test.py:77-89 (on a map whose higher values mean "sounding").
        v = -loc
        vmin, vmax = v.min(), v.max()
        if not (vmax - vmin) == 0:
            v = (v - vmin) / (vmax - vmin)
        pred = 1 - v
        threshold = np.sort(pred.flatten())[int(pred.shape[0] * pred.shape[1] / 2)]
        pred[pred > threshold] = 1
        pred[pred < 1] = 0
        infer_map = np.zeros((h, w))
        infer_map[pred >= 0.5] = 1
        res["lvs"][i] = np.sum(infer_map * gtmap) / (np.sum(gtmap) + np.sum(infer_map * (gtmap == 0)))
    out["ciou/maps"] = maps
    out["ciou/boxes"] = boxes
    out["ciou/counts"] = counts
    out["ciou/gt"] = gts
    for k, v in res.items():
        out[f"ciou/{k}"] = v


def class_cases(out):
    rng = np.random.default_rng(13)
    f, c, h, w = 6, 4, 40, 48
    maps = np.stack([blob_maps(rng, c, h, w) - 0.2 for _ in range(f)]).astype(np.float32)
    rows = []  # (frame, class, x, y, w, h, sounding)
    for fr in range(f):
        n_classes = [1, 2, 3, 2, 3, 1][fr]
        classes = rng.choice(c, n_classes, replace=False)
        for cl in classes:
            for _ in range(rng.integers(1, 3)):
                bw, bh = rng.uniform(0.1, 0.5), rng.uniform(0.1, 0.5)
                rows.append((fr, cl, rng.uniform(0, 1 - bw), rng.uniform(0, 1 - bh), bw, bh, 1))
        # A visible but silent object of another class.
        other = [k for k in range(c) if k not in classes][0]
        rows.append((fr, other, 0.1, 0.1, 0.3, 0.3, 0))
    ann = np.array(rows, dtype=np.float64)
    scores = np.zeros(f)
    levels = np.zeros(f, dtype=np.int64)
    per_class = np.full((f, c), np.nan)
    for fr in range(f):
        label = {}
        for r in ann[ann[:, 0] == fr]:
            if r[6] == 1:
                label.setdefault(int(r[1]), []).append(r[2:6])
        ciou = 0.0
        # MSSL utils/evaluate.py:93-109, scaled to (w, h) instead of 256.
        for cls in label:
            boxes = np.array(label[cls]) * np.array([w, h, w, h])
            gtmap = np.zeros((h, w))
            for box in boxes:
                gtmap[int(box[1]) : int(box[1] + box[3]), int(box[0]) : int(box[0] + box[2])] = 1.0
            infer = maps[fr, cls].copy()
            infer[infer < 0] = 0
            v = np.sum((gtmap > 0) * (infer > 0.1 * np.max(infer))) / (
                np.sum(gtmap) + np.sum((gtmap == 0) * (infer > 0.1 * np.max(infer)))
            )
            per_class[fr, cls] = v
            ciou += v
        ciou /= len(label)
        scores[fr] = ciou
        levels[fr] = len(label)
    out["class/maps"] = maps
    out["class/annotations"] = ann
    out["class/scores"] = scores
    out["class/levels"] = levels
    out["class/per_class"] = per_class
    curve, auc = mssl_curve(scores)
    out["class/auc"] = np.array([auc])


def retrieval_cases(out):
    rng = np.random.default_rng(17)
    n, d = 12, 8
    audio = rng.standard_normal((n, d)).astype(np.float32)
    image = (audio + 0.8 * rng.standard_normal((n, d))).astype(np.float32)
    la = rng.integers(0, 3, n)
    li = la.copy()
    li[[2, 7]] = (li[[2, 7]] + 1) % 3
    a64, i64 = audio.astype(np.float64), image.astype(np.float64)
    na = np.maximum(np.linalg.norm(a64, axis=1), 1e-12)
    ni = np.maximum(np.linalg.norm(i64, axis=1), 1e-12)
    sim = (a64 @ i64.T) / (na[:, None] * ni[None, :])
    for name, rel in (("index", np.eye(n, dtype=bool)), ("label", la[:, None] == li[None, :])):
        for direction, s, r in (("a2i", sim, rel), ("i2a", sim.T, rel.T)):
            aps, r1, r5 = [], [], []
            for q in range(n):
                if not r[q].any():
                    continue
                aps.append(sklearn.metrics.average_precision_score(r[q], s[q]))
                order = np.argsort(-s[q], kind="stable")
                r1.append(r[q][order[:1]].any())
                r5.append(r[q][order[:5]].any())
            out[f"retrieval/{name}/{direction}"] = np.array([np.mean(r1), np.mean(r5), np.mean(aps), len(aps)])
    out["retrieval/audio"] = audio
    out["retrieval/image"] = image
    out["retrieval/audio_labels"] = la.astype(np.int64)
    out["retrieval/image_labels"] = li.astype(np.int64)


def main():
    assert mir_eval.__version__ == "0.8.2", mir_eval.__version__
    out = {}
    bss_cases(out)
    auc_cases(out)
    ciou_cases(out)
    class_cases(out)
    retrieval_cases(out)
    out = {k: np.ascontiguousarray(v) for k, v in out.items()}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(out, OUT, metadata={"generator": "tools/reference/make_metrics_fixtures.py", "mir_eval": "0.8.2"})
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(out)} tensors)", file=sys.stderr)


if __name__ == "__main__":
    main()
