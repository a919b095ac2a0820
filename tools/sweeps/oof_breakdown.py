#!/usr/bin/env python3
"""Splits a generalization report's out-of-family scores by picture family and by background.

`flickr_localize generalization` writes one cIoU per scene (`generalization.json`, rows in the
order of the scenes); `generate --broad --out-of-family` writes the same scenes' ground truth
with each object's picture family and SoundFont (`benchmark/scenes.json`: its `val` split is the
first half of `--n`, its `test` split the second). Scenes with one picture family among their
sounding objects count under it, the others under "mixed". Used for results.md §9.13:

    cargo run --release -p av-data --example generate -- --broad --out-of-family --n 512 \
        --seed 2020 --layout flickr --no-stems --out /tmp/oof_scenes
    cargo run --release --example flickr_localize -- generalization --checkpoint MODEL \
        --split val --scenes 256 --out runs/gen_val
    python3 tools/sweeps/oof_breakdown.py /tmp/oof_scenes/benchmark/scenes.json val runs/gen_val/generalization.json

The benchmark seed (2020) and the scene count must be those of the evaluation.
"""
import collections
import json
import sys

ROWS = (
    "ours (Eq. 8)",
    "ours, centred Eq. 8, each heard class's map at its own peak, maximum over classes",
    "centre box (half side)",
)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    scenes_path, split, reports = sys.argv[1], sys.argv[2], sys.argv[3:]
    scenes = json.load(open(scenes_path))["scenes"]
    scenes = sorted((s for s in scenes if s["split"] == split), key=lambda s: s["index"])
    for path in reports:
        report = json.load(open(path))
        for row in report["rows"]:
            if row["method"] not in ROWS:
                continue
            cious = row["out_of_family"]["cious"]
            if len(cious) != len(scenes):
                sys.exit(f"{path}: {len(cious)} scores for {len(scenes)} {split} scenes")
            by_family, by_background = collections.defaultdict(list), collections.defaultdict(list)
            for scene, c in zip(scenes, cious):
                families = {o["family"] for o in scene["objects"] if o["sounding"]}
                by_family[families.pop() if len(families) == 1 else "mixed"].append(c)
                by_background[scene["background"]].append(c)
            print(f"{path}: {row['method']}")
            for name, groups in (("family", by_family), ("background", by_background)):
                cells = ", ".join(
                    f"{k} {sum(c >= 0.5 for c in v) / len(v):.3f} ({len(v)})" for k, v in sorted(groups.items())
                )
                print(f"  success by {name}: {cells}")


if __name__ == "__main__":
    main()
