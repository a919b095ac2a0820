#!/usr/bin/env bash
# Trains a localization plan with several seeds and scores every seed the way docs/results.md §9
# reports it: the generalization table on 500 test scenes per test set (in- and out-of-family),
# Table 2 by level (300 test scenes, in- and out-of-family) and the silence threshold chosen on
# validation clips. Each step is skipped when its output exists, so a rerun resumes (training
# itself resumes from its last checkpoint).
#
#   bash tools/sweeps/localization_seeds.sh NAME "TRAIN ARGS" SEED...
#   bash tools/sweeps/localization_seeds.sh b2nc "--preset broad --no-class-clips 0.1" 0 1 2
#
# Outputs: runs/NAME_sS/ (the run; model in model/), runs/NAME_sS/eval/{generalization,
# multisource_in, multisource_out, silence}/ (each with its JSON), and the printed tables in
# runs/NAME_sS/eval/*.log. Needs the fetched training photos (bash tools/assets/fetch_backgrounds.sh).
set -euo pipefail
name=$1; train_args=$2; shift 2
bin_dir=${BIN_DIR:-target/release/examples}
for seed in "$@"; do
  run=runs/${name}_s${seed}
  eval=$run/eval
  mkdir -p "$eval"
  if [ ! -f "$run/model/model.bpk" ]; then
    echo "== train $run ($(date -u +%H:%M:%S))"
    # shellcheck disable=SC2086  # the train arguments are a word list on purpose
    "$bin_dir/flickr_localize" train $train_args --seed "$seed" --run "$run" --quiet
  fi
  step() {
    local out=$1; shift
    [ -f "$eval/$out.log" ] && return
    echo "== $run: $out ($(date -u +%H:%M:%S))"
    "$@" > "$eval/$out.log.tmp" 2>&1
    mv "$eval/$out.log.tmp" "$eval/$out.log"
  }
  step generalization "$bin_dir/flickr_localize" generalization --checkpoint "$run/model" --scenes 500 \
    --out "$eval/generalization" --quiet
  step multisource_in "$bin_dir/audioset_multisource" --checkpoint "$run/model" --test-scenes 300 \
    --run "$eval/multisource_in" --quiet
  step multisource_out "$bin_dir/audioset_multisource" --checkpoint "$run/model" --test-scenes 300 \
    --out-of-family --run "$eval/multisource_out" --quiet
  step silence "$bin_dir/flickr_localize" calibrate-silence --checkpoint "$run/model" --scenes 96 \
    --out "$eval/silence" --quiet
done
