#!/usr/bin/env bash
# Fetches SoundFonts that may NOT be committed (GPL / CC-BY-SA, Debian packages) and renders their
# note banks into the local cache, in the same format as the committed
# crates/av-data/assets/notes/<font>/ (index.json + one 16-bit mono 22 050 Hz WAV per instrument):
#
#   bash tools/assets/fetch_soundfonts.sh     # -> ${AV_ALIGN_CACHE:-$HOME/.cache/av-align}/notes/
#
# These are training-only SoundFonts (`AssetSelection::train_soundfonts`): validation and test
# scenes never use them, so those scenes stay the same on machines without the cache.
# Needs apt-get (only `apt-get download`: nothing is installed), dpkg-deb and cargo.
# Packages (Debian bookworm versions; the script falls back to the archive's current version):
#   timgm6mb-soundfont 1.3-5   TimGM6mb.sf2 (Tim Brechbill; sampled, not Fluid R3)   GPL-2
#   opl3-soundfont 1.0-4       OPL-3_FM_128M.sf2 (Zandro Reveille; FM synthesis)    CC-BY-SA-4.0
# Rendering takes about a minute (plus the first build of tools/assets).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${AV_ALIGN_CACHE:-$HOME/.cache/av-align}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE/notes"

# name|package=version|path inside the package
FONTS=(
    "timgm6mb|timgm6mb-soundfont=1.3-5|usr/share/sounds/sf2/TimGM6mb.sf2"
    "opl3_fm|opl3-soundfont=1.0-4|usr/share/sounds/sf2/OPL-3_FM_128M.sf2"
)
ARGS=()
cd "$WORK"
for entry in "${FONTS[@]}"; do
    IFS='|' read -r name spec path <<<"$entry"
    pkg="${spec%%=*}"
    apt-get download "$spec" >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null
    mkdir -p "deb/$pkg"
    dpkg-deb -x "$(ls "$pkg"_*.deb | head -n 1)" "deb/$pkg"
    ARGS+=(--font "$name=$WORK/deb/$pkg/$path")
done
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/asset-tools}" cargo run --release --quiet \
    --manifest-path "$ROOT/tools/assets/Cargo.toml" -- --notes-only --out "$CACHE" "${ARGS[@]}"
ls "$CACHE/notes"
