#!/usr/bin/env bash
# The validation sweep of the streamed separation preset (issue 23): mask kind and loss, U-Net
# width, depth and learning rate, each changed alone from the CPU preset (ratio masks + L1,
# ngf 8, U-Net-7, Adam 1e-3), oracle class, 500 steps from scratch, scored on the validation
# split (docs/separation_results.md, "The preset chosen on validation"). Each run resumes when
# the script is started again. Usage: bash tools/sweeps/separation_validation.sh [runs/sep_sweep]
set -euo pipefail
out=${1:-runs/sep_sweep}
bin=${BIN:-target/release/examples/music_separation}
common=(stream --steps 500 --eval-every 250 --quiet)
run() {
  local name=$1; shift
  [ -f "$out/$name/metrics.json" ] && { echo "== $name done"; return; }
  echo "== $name: $* ($(date -u +%H:%M:%S))"
  "$bin" "${common[@]}" --out "$out/$name" "$@"
}
run binary --mask binary
run lr3e-3 --lr 3e-3
run lr3e-4 --lr 3e-4
run depth6 --depth 6
run ngf16 --ngf 16
run base
