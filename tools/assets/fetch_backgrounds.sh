#!/usr/bin/env bash
# Fetches extra background photos that may NOT be committed (GPL / LGPL / CC-BY-SA wallpapers from
# Debian packages) into a local cache, in the same format as the committed
# crates/av-data/assets/backgrounds/ (JPEG q88, short side 320 px, long side cropped to at most
# 4:3, plus an index.json):
#
#   bash tools/assets/fetch_backgrounds.sh      # -> ${AV_ALIGN_CACHE:-$HOME/.cache/av-align}/backgrounds/
#
# Needs apt-get (only `apt-get download`: nothing is installed), dpkg-deb, and python3 with Pillow
# (or, without Pillow, ImageMagick's `convert`). Only photographs are taken (no abstract art).
# Packages (Debian bookworm versions; the script falls back to the archive's current version):
#   mate-backgrounds 1.26.0-1              12 nature photos                      GPL-2+
#   lomiri-wallpapers-16.04 20.04.0-2       4 photos (the CC-BY-4.0 / CC0 ones are committed)  CC-BY-SA-4.0
#   lomiri-wallpapers-20.04 20.04.0-2       1 photo                               CC-BY-SA-3.0
#   plasma-workspace-wallpapers 4:5.27.5-2 11 photos                              LGPL-3
# index.json: {"photos":[{"name","group" (= package name),"split","licence","source"}, ...]};
# splits are deterministic: photos sorted by name, i-th photo -> u = frac(i * 0.618034), train if
# u < 0.70, val if u < 0.85, else test (about 70/15/15, spread over the packages).
set -euo pipefail

CACHE="${AV_ALIGN_CACHE:-$HOME/.cache/av-align}"
OUT="$CACHE/backgrounds"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

# package=version|licence
PACKAGES=(
    "mate-backgrounds=1.26.0-1|GPL-2+"
    "lomiri-wallpapers-16.04=20.04.0-2|CC-BY-SA-4.0"
    "lomiri-wallpapers-20.04=20.04.0-2|CC-BY-SA-3.0"
    "plasma-workspace-wallpapers=4:5.27.5-2|LGPL-3"
)
# name|package|path inside the package|photographer
PHOTOS=(
    "mate_aqua|mate-backgrounds|usr/share/backgrounds/mate/nature/Aqua.jpg|Charles Barbin"
    "mate_blinds|mate-backgrounds|usr/share/backgrounds/mate/nature/Blinds.jpg|Lennart Poettering"
    "mate_dune|mate-backgrounds|usr/share/backgrounds/mate/nature/Dune.jpg|Marco Cogoni"
    "mate_freshflower|mate-backgrounds|usr/share/backgrounds/mate/nature/FreshFlower.jpg|Jens Ansorg"
    "mate_garden|mate-backgrounds|usr/share/backgrounds/mate/nature/Garden.jpg|MATE backgrounds"
    "mate_greenmeadow|mate-backgrounds|usr/share/backgrounds/mate/nature/GreenMeadow.jpg|Timothy Schellhase"
    "mate_ladybird|mate-backgrounds|usr/share/backgrounds/mate/nature/LadyBird.jpg|MATE backgrounds"
    "mate_raindrops|mate-backgrounds|usr/share/backgrounds/mate/nature/RainDrops.jpg|blackcombwhistler07"
    "mate_storm|mate-backgrounds|usr/share/backgrounds/mate/nature/Storm.jpg|MATE backgrounds"
    "mate_twowings|mate-backgrounds|usr/share/backgrounds/mate/nature/TwoWings.jpg|MATE backgrounds"
    "mate_wood|mate-backgrounds|usr/share/backgrounds/mate/nature/Wood.jpg|MATE backgrounds"
    "mate_yellowflower|mate-backgrounds|usr/share/backgrounds/mate/nature/YellowFlower.jpg|MATE backgrounds"
    "lomiri_bridge|lomiri-wallpapers-16.04|usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg|Sander Klootwijk"
    "lomiri_dragonfly|lomiri-wallpapers-16.04|usr/share/backgrounds/Dragonfly_by_Bolly.jpg|Bolly"
    "lomiri_free|lomiri-wallpapers-16.04|usr/share/backgrounds/free_by_Peter_Nerlich.jpg|Peter Nerlich"
    "lomiri_greentock|lomiri-wallpapers-16.04|usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg|Peter Nerlich"
    "lomiri_kleiber|lomiri-wallpapers-20.04|usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg|Lukas Baubkus"
    "plasma_bythewater|plasma-workspace-wallpapers|usr/share/wallpapers/BytheWater/contents/images/1920x1080.jpg|Maciej Wiklo"
    "plasma_coldripple|plasma-workspace-wallpapers|usr/share/wallpapers/ColdRipple/contents/images/1920x1080.jpg|Risto Saukonpää"
    "plasma_colorfulcups|plasma-workspace-wallpapers|usr/share/wallpapers/ColorfulCups/contents/images/2560x1600.jpg|Dmitri Popov"
    "plasma_darkesthour|plasma-workspace-wallpapers|usr/share/wallpapers/DarkestHour/contents/images/1920x1080.jpg|Risto Saukonpää"
    "plasma_eveningglow|plasma-workspace-wallpapers|usr/share/wallpapers/EveningGlow/contents/images/1920x1080.jpg|Ian Hex"
    "plasma_fallenleaf|plasma-workspace-wallpapers|usr/share/wallpapers/FallenLeaf/contents/images/1920x1080.jpg|Martin Klapetek"
    "plasma_grey|plasma-workspace-wallpapers|usr/share/wallpapers/Grey/contents/images/1920x1080.jpg|Sigi Sagi"
    "plasma_kite|plasma-workspace-wallpapers|usr/share/wallpapers/Kite/contents/images/1920x1080.jpg|Risto Saukonpää"
    "plasma_onestandsout|plasma-workspace-wallpapers|usr/share/wallpapers/OneStandsOut/contents/images/1920x1080.jpg|Risto Saukonpää"
    "plasma_path|plasma-workspace-wallpapers|usr/share/wallpapers/Path/contents/images/1920x1080.jpg|Risto Saukonpää"
    "plasma_summer_1am|plasma-workspace-wallpapers|usr/share/wallpapers/summer_1am/contents/images/1920x1080.jpg|Risto Saukonpää"
)

cd "$WORK"
declare -A LICENCE VERSION
for entry in "${PACKAGES[@]}"; do
    spec="${entry%%|*}"
    pkg="${spec%%=*}"
    LICENCE[$pkg]="${entry#*|}"
    apt-get download "$spec" >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null
    deb="$(ls "$pkg"_*.deb | head -n 1)"
    VERSION[$pkg]="$(dpkg-deb -f "$deb" Version)"
    mkdir -p "x/$pkg"
    dpkg-deb -x "$deb" "x/$pkg"
done

: > manifest.tsv
for entry in "${PHOTOS[@]}"; do
    IFS='|' read -r name pkg path author <<<"$entry"
    printf '%s\t%s\t%s\t%s (%s)\tDebian %s %s\n' "$name" "$pkg" "x/$pkg/$path" \
        "${LICENCE[$pkg]}" "$author" "$pkg" "${VERSION[$pkg]}" >> manifest.tsv
done

python3 - "$OUT" manifest.tsv <<'EOF'
import json, os, shutil, subprocess, sys

out, manifest = sys.argv[1], sys.argv[2]
rows = [line.rstrip("\n").split("\t") for line in open(manifest, encoding="utf-8")]
rows.sort(key=lambda r: r[0])
try:
    from PIL import Image
except ImportError:
    Image = None
    probe = subprocess.run(["convert", "-version"], capture_output=True, text=True) \
        if shutil.which("convert") else None
    if probe is None or probe.returncode != 0 or "ImageMagick" not in probe.stdout:
        sys.exit("need python3 Pillow or ImageMagick's convert "
                 "(apt-get install imagemagick, or pip install pillow)")

SHORT = 320
photos = []
for i, (name, group, path, licence, source) in enumerate(rows):
    u = (i * 0.6180339887498949) % 1.0  # golden-ratio sequence: spread over groups
    split = "train" if u < 0.70 else ("val" if u < 0.85 else "test")
    dest = os.path.join(out, name + ".jpg")
    if Image is not None:
        img = Image.open(path).convert("RGB")
        w, h = img.size
        s = min(w, h)
        nw, nh = w * SHORT // s, h * SHORT // s
        img = img.resize((nw, nh), Image.LANCZOS)
        cw, ch = min(nw, SHORT * 4 // 3), min(nh, SHORT * 4 // 3)
        x, y = (nw - cw) // 2, (nh - ch) // 2
        img.crop((x, y, x + cw, y + ch)).save(dest, quality=88)
    else:
        long = SHORT * 4 // 3
        subprocess.run(["convert", path, "-resize", f"{SHORT}x{SHORT}^", "-gravity", "center",
                        "-crop", f"{long}x{long}+0+0", "+repage", "-quality", "88", dest],
                       check=True)
    photos.append({"name": name, "group": group, "split": split, "licence": licence,
                   "source": source})
    print(f"{name:24} {split:5} {group}")
with open(os.path.join(out, "index.json"), "w", encoding="utf-8") as f:
    json.dump({"photos": photos}, f, indent=2, ensure_ascii=False)
    f.write("\n")
print(f"{len(photos)} photos in {out}")
EOF
