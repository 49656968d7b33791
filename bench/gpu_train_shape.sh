#!/usr/bin/env bash
# Train the shape matcher on a GPU machine, from the repository root, in one command:
#
#   OUT=/some/folder bash bench/gpu_train_shape.sh [MINUTES] [INIT_FOLDER]
#
# MINUTES (default 8.5): the whole training run, start-up included; the command ends about a minute
# later (last checkpoint, validation, clean-up). INIT_FOLDER: a model folder to go on from (--init).
# It needs the material from `python bench/train_shape_matcher.py material` in bench/.cache/
# (icons.npz, fonts/, backgrounds.npz), made on a machine with npm, resvg-py and the font packages;
# here only torch, numpy, OpenCV, Pillow and safetensors are needed.
#
# Into $OUT (default bench/out/gpu): shape-matcher/ (config.json + model.safetensors, saved every
# minute, so a run stopped at a time limit still leaves weights), train-summary.json (settings,
# material, validation figures per checkpoint) and train.log (everything printed here).
# Settings from the environment: BATCH (192), WORKERS (15), TARGETS (2), MAX_ECHO (2), LR (0.002), SEED (0),
# VAL (256 validation scenes), SAVE_EVERY (60 s), BASELINE (a model folder validated once for comparison;
# default bench/.cache/init-e1e81c2 where present), PYTHON (the first of python3, python that has torch).
set -uo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-8.5}
INIT=${2:-}
OUT=${OUT:-bench/out/gpu}
if [ -z "${PYTHON:-}" ]; then  # the first Python on the PATH that has torch
  PYTHON=python3
  for candidate in python3 python; do
    if "$candidate" -c "import torch" 2>/dev/null; then PYTHON=$candidate; break; fi
  done
fi
BATCH=${BATCH:-192}
WORKERS=${WORKERS:-15}
TARGETS=${TARGETS:-2}
MAX_ECHO=${MAX_ECHO:-2}
LR=${LR:-0.002}
SEED=${SEED:-0}
VAL=${VAL:-256}
SAVE_EVERY=${SAVE_EVERY:-60}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT/shape-matcher"
LOG="$OUT/train.log"
: > "$LOG"
log() { echo "$@" | tee -a "$LOG"; }

{
  echo "== $(date -u +%FT%TZ) gpu_train_shape.sh MINUTES=$MINUTES INIT=${INIT:-none} BATCH=$BATCH WORKERS=$WORKERS TARGETS=$TARGETS MAX_ECHO=$MAX_ECHO LR=$LR SEED=$SEED VAL=$VAL"
  nvidia-smi || echo "(no nvidia-smi)"
  echo "cpus: $(nproc); memory: $(free -g 2>/dev/null | awk '/Mem:/{print $2 " GiB"}')"
  "$PYTHON" - <<'EOF'
import sys, platform
import cv2, numpy, PIL, torch
print("python", platform.python_version(), "| torch", torch.__version__, "cuda", torch.version.cuda,
      "available", torch.cuda.is_available(), "| opencv", cv2.__version__, "| numpy", numpy.__version__,
      "| pillow", PIL.__version__)
try:
    import safetensors
    print("safetensors", safetensors.__version__)
except ImportError:
    sys.exit("safetensors is missing: checkpoints cannot be written")
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(0), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB",
          "bf16", torch.cuda.is_bf16_supported())
EOF
  echo "material: $(ls -la bench/.cache/icons.npz bench/.cache/backgrounds.npz 2>&1 | awk '{print $NF, $5}' | tr '\n' ' ')fonts: $(ls bench/.cache/fonts 2>/dev/null | grep -ci -E '\.(ttf|otf)$')"
  git log -1 --format='commit %H %s' 2>/dev/null || true
} 2>&1 | tee -a "$LOG"

if [ ! -f bench/.cache/icons.npz ]; then
  log "bench/.cache/icons.npz is missing: run 'python bench/train_shape_matcher.py material' first and carry bench/.cache/icons.npz, bench/.cache/fonts and bench/.cache/backgrounds.npz"
  exit 2
fi
INIT_ARGS=()
if [ -n "$INIT" ]; then
  if [ -f "$INIT/config.json" ] && [ -f "$INIT/model.safetensors" ]; then INIT_ARGS=(--init "$INIT"); else log "no model in $INIT: training from scratch"; fi
fi
# BASELINE: a model folder validated once on the same held-out scenes, for the model card's "before"
# (default: the earlier model, where it was carried along).
BASELINE=${BASELINE:-bench/.cache/init-e1e81c2}
if [ -f "$BASELINE/model.safetensors" ]; then INIT_ARGS+=(--baseline "$BASELINE"); fi

start=$(date +%s)
run() {  # run MINUTES [extra trainer arguments]: the trainer under a hard limit of its budget + 45 s
  local minutes=$1; shift
  local limit
  limit=$("$PYTHON" -c "print(int($minutes * 60 + 45))")
  timeout --signal=INT --kill-after=20 "$limit" "$PYTHON" bench/train_shape_matcher.py train \
    --out "$OUT/shape-matcher" --summary "$OUT/train-summary.json" --minutes "$minutes" \
    --batch "$BATCH" --workers "$WORKERS" --targets "$TARGETS" --max-echo "$MAX_ECHO" --lr "$LR" --seed "$SEED" \
    --val "$VAL" --save-every "$SAVE_EVERY" --log-every 50 "$@" 2>&1 | tee -a "$LOG"
  return "${PIPESTATUS[0]}"
}

run "$MINUTES" ${INIT_ARGS[@]+"${INIT_ARGS[@]}"}
rc=$?
if [ $rc -ne 0 ] && [ ! -f "$OUT/shape-matcher/model.safetensors" ]; then
  # Failed before its first checkpoint (a bf16 or worker problem, say): once more, in full precision,
  # with fewer workers and no echo, for the time left.
  left=$("$PYTHON" -c "print(round(max(0.0, $MINUTES - ($(date +%s) - $start) / 60 - 0.3), 2))")
  log "== the run failed (exit $rc) before its first checkpoint; again with --amp off --max-echo 0 --workers 8 for $left minutes"
  if "$PYTHON" -c "import sys; sys.exit(0 if $left >= 1 else 1)"; then
    WORKERS=8
    MAX_ECHO=0
    run "$left" ${INIT_ARGS[@]+"${INIT_ARGS[@]}"} --amp off
    rc=$?
  fi
fi
rm -f "$OUT/shape-matcher/".*.tmp
log "== exit $rc after $(( $(date +%s) - start )) s; files in $OUT:"
find "$OUT" -type f -printf '%P %s bytes\n' | sort | tee -a "$LOG"
exit $rc
