#!/usr/bin/env bash
# Rebuilds av-data's committed asset pack, crates/av-data/assets/ (about 2.3 MB), from offline
# sources. Never run by CI; run it by hand from the repository root after changing an instrument,
# a sprite or a photo, then commit the result:
#
#   apt-get install -y fluid-soundfont-gm flac          # FluidR3_GM.sf2 (MIT), FLAC encoder
#   bash tools/assets/make_asset_pack.sh
#
# What it fetches (ordinary package clients, pinned versions):
#   npm pack @twemoji/svg@15.0.0                         # Twemoji SVGs, graphics CC-BY 4.0
#   pip download scikit-image==0.26.0 --no-deps --only-binary=:all:   # CC0 / public-domain photos
# and then runs the pack builder (tools/assets/src/main.rs, a standalone cargo project):
#   cargo run --release --manifest-path tools/assets/Cargo.toml -- --soundfont ... --out ...
#   flac --best --no-padding                             # lossless compression of the note bank
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
OUT="${OUT:-$ROOT/crates/av-data/assets}"
SF2="${SF2:-/usr/share/sounds/sf2/FluidR3_GM.sf2}"

test -f "$SF2" || { echo "missing $SF2: apt-get install -y fluid-soundfont-gm" >&2; exit 1; }
command -v flac >/dev/null || { echo "missing flac: apt-get install -y flac" >&2; exit 1; }

cd "$WORK"
npm pack --silent @twemoji/svg@15.0.0 >/dev/null 2>&1
tar xzf twemoji-svg-15.0.0.tgz
pip download scikit-image==0.26.0 --no-deps --only-binary=:all: -d wheel >/dev/null
(cd wheel && python3 -m zipfile -e scikit_image-0.26.0-*.whl .)

rm -rf "$OUT/notes" "$OUT/sprites" "$OUT/backgrounds"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$WORK/target}" cargo run --release \
    --manifest-path "$ROOT/tools/assets/Cargo.toml" -- \
    --soundfont "$SF2" \
    --twemoji "$WORK/package" \
    --skimage "$WORK/wheel/skimage/data" \
    --svg "$ROOT/tools/assets/svg" \
    --out "$OUT" \
    --wav "$WORK/wav"

for wav in "$WORK"/wav/*.wav; do
    flac -s --best --no-padding -f -o "$OUT/notes/$(basename "$wav" .wav).flac" "$wav"
done
du -sh "$OUT"
