#!/usr/bin/env bash
# Build one HD2UHD dataset from Debian's wallpapers (plasma-workspace-wallpapers,
# mate-backgrounds): 40 training pictures, 5 held out, as in models/hwsr-s/CARD.md.
#
#   configs/data/wallpapers.sh CODEC CRF OUT      e.g.  libx265 27 data/x265-crf27
#
# Every dataset of one codec strength differs from another only in --codec and --crf.
# The x264 CRF 24 and 30 sets are data/wallpapers-crf24 and data/wallpapers-crf30.
set -euo pipefail
codec=${1:?codec (libx264 or libx265)}; crf=${2:?crf}; out=${3:?output folder}
kde=/usr/share/wallpapers; mate=/usr/share/backgrounds/mate
kde_img() { echo "$kde/$1/contents/images/$2"; }
src=(
  "$(kde_img Altai 5120x2880.png)" "$(kde_img Autumn 1920x1080.jpg)"
  "$(kde_img BytheWater 1920x1080.jpg)" "$(kde_img Canopee 3840x2160.png)"
  "$(kde_img Cascade 3840x2160.png)" "$(kde_img Cluster 3840x2160.png)"
  "$(kde_img ColdRipple 1920x1080.jpg)" "$(kde_img ColorfulCups 2560x1600.jpg)"
  "$(kde_img DarkestHour 1920x1080.jpg)" "$(kde_img Elarun 2560x1600.png)"
  "$(kde_img EveningGlow 1920x1080.jpg)" "$(kde_img Flow 5120x2880.jpg)"
  "$(kde_img FlyingKonqui 1920x1080.png)" "$(kde_img Grey 1920x1080.jpg)"
  "$(kde_img IceCold 5120x2880.png)" "$(kde_img Kay 5120x2880.png)"
  "$(kde_img Kite 1920x1080.jpg)" "$(kde_img Kokkini 3840x2160.png)"
  "$(kde_img MilkyWay 5120x2880.png)" "$(kde_img OneStandsOut 1920x1080.jpg)"
  "$(kde_img PastelHills 1920x1080.jpg)" "$(kde_img Patak 5120x2880.png)"
  "$(kde_img SafeLanding 5120x2880.jpg)" "$(kde_img Shell 5120x2880.jpg)"
  "$(kde_img Volna 5120x2880.jpg)" "$(kde_img summer_1am 1920x1080.jpg)"
  "$mate/nature/Aqua.jpg" "$mate/nature/Blinds.jpg" "$mate/nature/Dune.jpg"
  "$mate/abstract/Elephants_5640x3172.jpg" "$mate/abstract/Flow.png"
  "$mate/nature/FreshFlower.jpg" "$mate/nature/Garden.jpg" "$mate/nature/GreenMeadow.jpg"
  "$mate/abstract/Gulp.png" "$mate/nature/LadyBird.jpg" "$mate/nature/RainDrops.jpg"
  "$mate/nature/Storm.jpg" "$mate/nature/TwoWings.jpg" "$mate/nature/YellowFlower.jpg"
)
val=(
  "$(kde_img Path 1920x1080.jpg)" "$(kde_img FallenLeaf 1920x1080.jpg)"
  "$mate/nature/Wood.jpg" "$(kde_img Opal 3840x2160.png)" "$(kde_img Honeywave 5120x2880.jpg)"
)
exec hwsr data build --out "$out" --codec "$codec" --crf "$crf" --still-frames 6 \
  --still-zoom 0 --patches-per-frame 5 --patch-lr 48 --val-frames 2 --seed 0 \
  --no-progress --src "${src[@]}" --val-src "${val[@]}"
