#!/usr/bin/env bash
# The seeded long-budget ladder (configs/ladder/ladder-gpu.toml: 4 rungs x 3 seeds, 13,000
# steps x 32 crops) as one job for one GPU lease. Guide: docs/ladder.md, "On a GPU".
#
#   configs/ladder/gpu.sh pack           here, with network: the two datasets (built with
#                                        configs/data/wallpapers.sh if missing; held-out frames
#                                        cut to the centre 256² LR crops that are scored) and
#                                        the wheels the GPU image lacks (Brevitas and its two
#                                        small dependencies) into data/gpu-pack/ (< 60 MiB)
#   configs/ladder/gpu.sh run OUT [ARGS] on the GPU machine: unpack, 12 processes at once,
#                                        report, OUT/ladder-gpu.tar.gz (scores, run summaries,
#                                        shard logs, report); ARGS go to `hwsr ladder`
#
# The device call: command "configs/ladder/gpu.sh run $OUT", carry ["data/gpu-pack"],
# timeout_s 600. Back here: tar -xzf ladder-gpu.tar.gz in the repository root, then
# hwsr ladder --config configs/ladder/ladder-gpu.toml --report-only.
# Dry run on a CPU at a tiny budget (the same processes and archive, 12 runs of 4 steps):
#   configs/ladder/gpu.sh run /tmp/dry --set optim.steps=4 --set data.batch_size=2 \
#       --runs runs/ladder-gpu-dry --report /tmp/dry/seeds.md
set -euo pipefail
cd "$(dirname "$0")/../.."
pack=data/gpu-pack
datasets=(data/wallpapers-crf24 data/wallpapers-crf30)
wheels=(brevitas==0.13.4 dependencies==2.0.1 unfoldNd==0.2.3)
limit_mib=60

do_pack() {
  [[ -f data/wallpapers-crf24/manifest.json ]] || configs/data/wallpapers.sh libx264 24 data/wallpapers-crf24
  [[ -f data/wallpapers-crf30/manifest.json ]] || configs/data/wallpapers.sh libx264 30 data/wallpapers-crf30
  rm -rf "$pack.partial" && mkdir -p "$pack.partial/whl" "$pack.partial/stage/data"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$pack.partial/whl" "${wheels[@]}"
  # CRF 24 trains and is scored, CRF 30 is only scored; the held-out frames travel as the
  # centre 256² LR crops the ladder scores (eval.crop_lr_px), not as whole 5K frames
  hwsr data crop --src data/wallpapers-crf24 --out "$pack.partial/stage/data/wallpapers-crf24" --crop-lr 256
  hwsr data crop --src data/wallpapers-crf30 --out "$pack.partial/stage/data/wallpapers-crf30" --crop-lr 256 --no-train
  tar -cf - -C "$pack.partial/stage" data | xz -9 -T0 > "$pack.partial/data.tar.xz"
  rm -rf "$pack.partial/stage"
  local mib=$(( $(du -sk "$pack.partial" | cut -f1) / 1024 ))
  if (( mib > limit_mib )); then
    echo "gpu.sh pack: $pack is $mib MiB, over the $limit_mib MiB a device call carries" >&2
    rm -rf "$pack.partial"; exit 1
  fi
  rm -rf "$pack" && mv "$pack.partial" "$pack"
  echo "$pack: $mib MiB ($(ls "$pack/whl" | tr '\n' ' '))"
}

do_run() {
  local out=${1:?OUT folder}; shift
  mkdir -p "$out"
  if [[ -d $pack/whl ]] && ! python3 -c 'import brevitas' 2>/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$pack"/whl/*.whl
    export PYTHONPATH=/tmp/site
  fi
  export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
  for d in "${datasets[@]}"; do
    # unpacked by Python's own tarfile/lzma: the GPU image need not have xz
    [[ -d $d ]] || { python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(filter="data")' "$pack/data.tar.xz"; break; }
  done
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
  local t0=$SECONDS rc=0
  # a device call is cut at 600 s and then returns nothing: stop in time and bring back
  # whatever is scored (a rerun on the same warm machine resumes from the runs it keeps)
  timeout -k 10 "${LADDER_LIMIT_S:-540}" python3 -m hwsr ladder \
    --config configs/ladder/ladder-gpu.toml --parallel 0 --collect "$out/ladder-gpu.tar.gz" "$@" || rc=$?
  echo "ladder: $(( SECONDS - t0 )) s wall, exit $rc"
  if [[ ! -f $out/ladder-gpu.tar.gz ]]; then
    find runs -name 'ladder-score-*.json' -o -name result.json -o -name 'shard-*.log' \
      | tar -czf "$out/ladder-gpu-partial.tar.gz" -T -
    echo "$out/ladder-gpu-partial.tar.gz: what was done when the time ran out"
  fi
  return $rc
}

case ${1:-} in
  pack) do_pack ;;
  run) shift; do_run "$@" ;;
  *) echo "usage: configs/ladder/gpu.sh pack | run OUT [hwsr ladder ARGS]" >&2; exit 2 ;;
esac
