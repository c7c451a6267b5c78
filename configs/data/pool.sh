#!/usr/bin/env bash
# Build the wider training pool (issue 31): every distinct picture of Debian's wallpaper and
# background packages, deduplicated by perceptual hash against each other and against the
# five held-out pictures of models/hwsr-s/CARD.md, which stay its validation sources.
#
#   configs/data/pool.sh CODEC CRF OUT       e.g.  configs/data/pool.sh libx264 24 data/pool-crf24
#
# Needs apt-get (download only: nothing is installed) and dpkg-deb. The packages are
# unpacked under $POOL_CACHE (default data/pool-cache, gitignored); the source list is
# $POOL_CACHE/sources.txt and the data card $POOL_CARD (default configs/data/pool-card.md).
# Same build flags as configs/data/wallpapers.sh, so the two datasets differ only in sources.
set -euo pipefail
codec=${1:?codec (libx264 or libx265)}; crf=${2:?crf}; out=${3:?output folder}
cache=${POOL_CACHE:-data/pool-cache}; card=${POOL_CARD:-configs/data/pool-card.md}
packages=(plasma-workspace-wallpapers mate-backgrounds gnome-backgrounds ukui-wallpapers
  lomiri-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 sway-backgrounds
  desktop-base)
mkdir -p "$cache/debs" "$cache/pkgs"
for p in "${packages[@]}"; do
  [[ -d $cache/pkgs/$p ]] && continue
  ls "$cache/debs/${p}_"*.deb >/dev/null 2>&1 || (cd "$cache/debs" && apt-get download -q "$p")
  deb=$(ls "$cache/debs/${p}_"*.deb | head -1)
  rm -rf "$cache/pkgs/$p.partial" && dpkg-deb -x "$deb" "$cache/pkgs/$p.partial"
  dpkg-deb -f "$deb" Version > "$cache/pkgs/$p.partial/.version"
  # hwsr reads PNG, JPEG, BMP and TIFF: a WebP picture is decoded once and kept as PNG
  # (lossless: the same pixels), named <file>.webp.png
  find "$cache/pkgs/$p.partial" -name '*.webp' -print0 | xargs -0 -r python3 -c '
import sys
from PIL import Image
for f in sys.argv[1:]:
    Image.open(f).convert("RGB").save(f + ".png")' 
  mv "$cache/pkgs/$p.partial" "$cache/pkgs/$p"
done
kde=$cache/pkgs/plasma-workspace-wallpapers/usr/share/wallpapers
mate=$cache/pkgs/mate-backgrounds/usr/share/backgrounds/mate
val=(  # the held-out pictures of models/hwsr-s/CARD.md (as in configs/data/wallpapers.sh)
  "$kde/Path/contents/images/1920x1080.jpg" "$kde/FallenLeaf/contents/images/1920x1080.jpg"
  "$mate/nature/Wood.jpg" "$kde/Opal/contents/images/3840x2160.png"
  "$kde/Honeywave/contents/images/5120x2880.jpg"
)
hwsr data pool --packages "$cache/pkgs" --exclude "${val[@]}" --min-side 1080 \
  --list "$cache/sources.txt" --card "$card"
mapfile -t src < "$cache/sources.txt"
start=$SECONDS
hwsr data build --out "$out" --codec "$codec" --crf "$crf" --still-frames 6 \
  --still-zoom 0 --patches-per-frame 5 --patch-lr 48 --val-frames 2 --seed 0 \
  --no-progress --src "${src[@]}" --val-src "${val[@]}"
echo "$out: built in $(( SECONDS - start )) s, $(du -sh "$out" | cut -f1)"
