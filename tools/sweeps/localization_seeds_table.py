#!/usr/bin/env python3
"""Mean and standard deviation over seeds of what tools/sweeps/localization_seeds.sh wrote.

    python3 tools/sweeps/localization_seeds_table.py b2nc 0 1 2

Prints the generalization table (cIoU@0.5 and AUC in- and out-of-family, class pairs told
apart), Table 2 by level (in- and out-of-family; with the AVC row when
tools/sweeps/avc_baseline_seeds.sh has scored every seed) and the silence calibration, as Markdown.
Standard deviations are over seeds with n - 1 in the denominator.

    GENERALIZATION=generalization_peak python3 tools/sweeps/localization_seeds_table.py bpre 0 1 2

reads the generalization table from eval/generalization_peak/ instead (a later re-scoring of
the same models with more rows, docs/results.md §9.11).
"""
import json
import os
import statistics
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cell(values, digits=3):
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def main():
    name, seeds = sys.argv[1], sys.argv[2:]
    runs = [f"runs/{name}_s{s}/eval" for s in seeds]
    gen_dir = os.environ.get("GENERALIZATION", "generalization")
    gens = [load(f"{r}/{gen_dir}/generalization.json") for r in runs]
    print(f"Generalization, test split, {gens[0]['scenes']} scenes per test set, seeds {', '.join(seeds)}:\n")
    print("| method | in-family cIoU@0.5 | in-family AUC | out-of-family cIoU@0.5 | out-of-family AUC | class pairs told apart (in; out) |")
    print("|---|---|---|---|---|---|")
    for i, row in enumerate(gens[0]["rows"]):
        rows = [g["rows"][i] for g in gens]
        assert all(r["method"] == row["method"] for r in rows)
        cells = [cell([r[f][k] for r in rows]) for f in ("in_family", "out_of_family") for k in ("success_rate", "auc")]
        pairs = ""
        if row.get("class_pairs"):
            pairs = "; ".join(cell([r["class_pairs"][j]["accuracy"] for r in rows], 2) for j in (0, 1))
        print(f"| {row['method']} | {' | '.join(cells)} | {pairs} |")
    for family in ("in", "out"):
        # With the AVC baseline (tools/sweeps/avc_baseline_seeds.sh) when every seed has it.
        with_avc = all(os.path.isfile(f"{r}/multisource_avc_{family}/metrics.json") for r in runs)
        folder = f"multisource_avc_{family}" if with_avc else f"multisource_{family}"
        ms = [load(f"{r}/{folder}/metrics.json") for r in runs]
        print(f"\nTable 2, {family}-of-family" if family == "out" else "\nTable 2, in-family", end="")
        print(f" ({ms[0]['test_scenes']} test scenes):\n")
        print("| method | L1 cIoU@0.5 | L1 AUC | L2 cIoU@0.5 | L2 AUC | L3 cIoU@0.3 | L3 AUC |")
        print("|---|---|---|---|---|---|---|")
        for i, row in enumerate(ms[0]["rows"]):
            rows = [m["rows"][i] for m in ms]
            cells = []
            for lvl in range(len(row["levels"])):
                cells.append(cell([r["levels"][lvl]["success"] for r in rows]))
                cells.append(cell([r["levels"][lvl]["auc"] for r in rows]))
            label = row["method"] + (f" ({row['maps']} maps)" if "maps" in row else " (Eq. 8)" if row["method"] == "CoarseToFine" else "")
            print(f"| {label} | {' | '.join(cells)} |")
    sil = [load(f"{r}/silence/silence.json") for r in runs]
    print("\nSilence (threshold chosen on validation, measured on test):\n")
    print("| seed | threshold | sounding kept | noise rejected | silence rejected | max noise confidence | min sounding confidence |")
    print("|---|---|---|---|---|---|---|")
    for s, x in zip(seeds, sil):
        t = x["test"]
        print(f"| {s} | {x['rule']['min_confidence']:.3f} | {t['sounding_kept']:.3f} | {t['noise_rejected']:.3f} | "
              f"{t['silence_rejected']:.3f} | {t['noise_confidence'][2]:.2f} | {t['sounding_confidence'][0]:.2f} |")


if __name__ == "__main__":
    main()
