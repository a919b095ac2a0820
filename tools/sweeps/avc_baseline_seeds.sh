#!/usr/bin/env bash
# Table 2's AVC row beside a localization seed sweep (tools/sweeps/localization_seeds.sh): for
# each seed, trains the one-stage AVC-only baseline of the same plan (same data, seed and stage-1
# settings; tools/plans/broad_nc_avc_only.json for the shipped broad plan with no-class clips)
# and scores Table 2 in- and out-of-family with all three methods: AVC, multi-task (the
# localization run's stage 1) and ours. Steps whose output exists are skipped, so a rerun resumes.
#
#   bash tools/sweeps/avc_baseline_seeds.sh NAME AVC_PLAN SEED...
#   bash tools/sweeps/avc_baseline_seeds.sh b2nc tools/plans/broad_nc_avc_only.json 0 1 2
#
# Needs runs/NAME_sS/model (the localization run). Outputs: runs/NAME_avc_sS/ (the AVC run) and
# runs/NAME_sS/eval/multisource_avc_{in,out}/ (metrics.json with the AVC row), which
# tools/sweeps/localization_seeds_table.py then reads instead of multisource_{in,out}.
set -euo pipefail
name=$1; plan=$2; shift 2
bin_dir=${BIN_DIR:-target/release/examples}
for seed in "$@"; do
  run=runs/${name}_s${seed}
  avc=runs/${name}_avc_s${seed}
  eval=$run/eval
  mkdir -p "$eval"
  if [ ! -f "$avc/model/model.bpk" ]; then
    echo "== train $avc ($(date -u +%H:%M:%S))"
    "$bin_dir/flickr_localize" train --plan "$plan" --seed "$seed" --run "$avc" --quiet
  fi
  for family in in out; do
    out=$eval/multisource_avc_$family
    [ -f "$out.log" ] && continue
    echo "== $run: Table 2 with AVC, $family-of-family ($(date -u +%H:%M:%S))"
    flag=(); [ "$family" = out ] && flag=(--out-of-family)
    "$bin_dir/audioset_multisource" --checkpoint "$run/model" --avc "$avc/model" --test-scenes 300 \
      "${flag[@]}" --run "$out" --quiet > "$out.log.tmp" 2>&1
    mv "$out.log.tmp" "$out.log"
  done
done
