#!/usr/bin/env python3
"""Times the reference Python metrics on the inputs of `cargo bench --bench kernels -- metrics`.

Pins: python 3.11, numpy==2.2.6, scipy==1.15.3, scikit-learn==1.9.1, mir_eval==0.8.2.

Command (from the repository root):
    python tools/time_mir_eval.py [--runs 7]

Prints the median wall time (ms) of:
* cpu/bss_eval_sources/2x65280: mir_eval.separation.bss_eval_sources(ref, est, False) on the
  2 x 65 280 long case of tools/reference/make_metrics_fixtures.py (the SoP protocol);
* cpu/ciou/250maps_256x256: MSSL new/cal_metric.py (cal_ciou with thres 0.5 on 250 maps, then the
  21-threshold success curve and sklearn.metrics.auc), ground-truth maps precomputed;
* cpu/class_aware_ciou/250frames_15cls_256x256: MSSL utils/evaluate.py:class_eval's loop
  (without cv2.resize and plotting: the maps are already 256 x 256).
The inputs are generated with the same formulas as benches/kernels/metrics.rs.
"""

import argparse
import os
import statistics
import sys
import time
import warnings

import mir_eval
import numpy as np
import sklearn.metrics

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference"))
from make_metrics_fixtures import long_case, splitmix_uniform  # noqa: E402

warnings.filterwarnings("ignore")


def median_ms(fn, runs):
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def ciou_inputs():
    """250 uniform maps and 3-box MSSL ground truths (benches/kernels/metrics.rs::ciou_inputs)."""
    maps, gts = [], []
    for i in range(250):
        maps.append(splitmix_uniform(1000 + i, 256 * 256).astype(np.float32).reshape(256, 256))
        gtmap = np.zeros((256, 256), dtype=np.float32)
        x0, y0 = 20 + (i * 7) % 100, 30 + (i * 13) % 90
        x1, y1 = x0 + 60 + i % 50, y0 + 50 + (i * 3) % 60
        for dx, dy in ((0, 0), (10, 5), (-8, 12)):
            gtmap[y0 + dy - 1 : y1 + dy - 1, x0 + dx - 1 : x1 + dx - 1] += 1.0
        gts.append(np.minimum(gtmap / 2.0, np.ones((256, 256), dtype=np.float32)))
    return maps, gts


def ciou_run(maps, gts):
    # MSSL new/cal_metric.py.
    def cal_ciou(location, gtmap, thres):
        return np.sum(gtmap[location > thres]) / (np.sum(gtmap) + np.sum(gtmap[location > thres] == 0))

    cious = [cal_ciou(m, g, 0.5) for m, g in zip(maps, gts)]
    results = []
    for i in range(21):
        results.append(np.sum(np.array(cious) >= 0.05 * i) / len(cious))
    x = [0.05 * i for i in range(21)]
    return sklearn.metrics.auc(x, results), results[10]


def class_inputs():
    """One shared 15 x 256 x 256 map stack, 250 frames of 1-3 sounding classes
    (benches/kernels/metrics.rs::class_inputs)."""
    maps = (splitmix_uniform(77, 15 * 256 * 256) - 0.1).astype(np.float32).reshape(15, 256, 256)
    frames = []
    for i in range(250):
        label = {}
        for k in range(1 + i % 3):
            cls = (i * 5 + k * 4) % 15
            x, y = ((i * 37 + k * 11) % 60) / 100.0, ((i * 53 + k * 17) % 60) / 100.0
            w, h = 0.2 + (i % 7) * 0.02, 0.25 + (k % 3) * 0.05
            label.setdefault(cls, []).append([x, y, w, h])
        frames.append(label)
    return maps, frames


def class_run(maps, frames):
    # MSSL utils/evaluate.py:class_eval (lines 93-121), without resize/visualize.
    cious = []
    for label in frames:
        ciou = 0.0
        for cls in label:
            boxes = np.array(label[cls]) * 256
            gtmap = np.zeros((256, 256))
            for box in boxes:
                gtmap[int(box[1]) : int(box[1] + box[3]), int(box[0]) : int(box[0] + box[2])] = 1.0
            infer = maps[cls].copy()
            infer[infer < 0] = 0
            ciou += np.sum((gtmap > 0) * (infer > 0.1 * np.max(infer))) / (
                np.sum(gtmap) + np.sum((gtmap == 0) * (infer > 0.1 * np.max(infer)))
            )
        cious.append(ciou / len(label))
    cious = np.array(cious)
    results = [np.sum(cious >= 0.05 * i) / len(cious) for i in range(21)]
    return sklearn.metrics.auc([0.05 * i for i in range(21)], results)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    assert mir_eval.__version__ == "0.8.2", mir_eval.__version__
    ref, est, _ = long_case()
    ref64, est64 = ref.astype(np.float64), est.astype(np.float64)
    ms = median_ms(lambda: mir_eval.separation.bss_eval_sources(ref64, est64, False), args.runs)
    print(f"cpu/bss_eval_sources/2x65280 mir_eval 0.8.2: {ms:.1f} ms (median of {args.runs})")
    maps, gts = ciou_inputs()
    ms = median_ms(lambda: ciou_run(maps, gts), args.runs)
    print(f"cpu/ciou/250maps_256x256 MSSL cal_metric.py: {ms:.1f} ms (median of {args.runs})")
    cmaps, frames = class_inputs()
    ms = median_ms(lambda: class_run(cmaps, frames), args.runs)
    print(f"cpu/class_aware_ciou/250frames_15cls_256x256 MSSL evaluate.py: {ms:.1f} ms (median of {args.runs})")


if __name__ == "__main__":
    main()
