#!/usr/bin/env bash
# The surface leg ("Surfaces as smooth as the truth"): the world run's student at 16000 steps
# (benchmarks/world_run.sh) trained on with its teachers' density beside their colour
# (hf distill --density-weight; --depth-weight with DEPTH), then evaluated as a world-run milestone, so
# benchmarks/bundle_default.py can pack it. Resumable: a killed distill continues from its last
# save, finished evaluations are skipped.
#
#   bash benchmarks/surface_run.sh                        # RUN=runs/wfull, 2000 more steps
#   EXTRA=4000 DENSITY=0.03 DEPTH=1 bash benchmarks/surface_run.sh
#   # a further leg from the bundled default's own milestone (START: the checkpoint to go on from)
#   START=runs/wfull/surface_s18000/student_dynamic.safetensors BASE=18000 EXTRA=4000 DENSITY=0.1 \
#     OUT=runs/wfull/surface_s22000_d10 bash benchmarks/surface_run.sh
#   # on to new teachers (RUN's: world_run.sh with STUDENT_STEPS="" teaches them alone)
#   RUN=runs/w17 START=runs/wfull/surface_s22000_d10/student_dynamic.safetensors BASE=22000 EXTRA=4000 \
#     DENSITY=0.1 OUT=runs/w17/surface_s26000 bash benchmarks/surface_run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HF=${HF:-hf}
RUN=${RUN:-runs/wfull}
BASE=${BASE:-16000}
EXTRA=${EXTRA:-2000}
DEPTH=${DEPTH:-0}
DENSITY=${DENSITY:-0.03}
SPLITS=${SPLITS:-"zeroshot colours_heldout train"}
steps=$((BASE + EXTRA))
OUT=${OUT:-$RUN/surface_s$steps}
START=${START:-$RUN/s$BASE/student_dynamic.safetensors}
model="$OUT/student_dynamic.safetensors"
mkdir -p "$OUT"
[ -f "$model" ] || cp "$START" "$model"
if [ ! -s "$OUT/distill_dynamic.json" ]; then
  $HF distill "$RUN"/teachers/*.safetensors --prompts "$RUN/train.txt" --out "$model" --resume \
    --steps "$steps" --depth-weight "$DEPTH" --density-weight "$DENSITY" --json \
    | tail -n 1 > "$OUT/distill_dynamic.json.part"
  mv "$OUT/distill_dynamic.json.part" "$OUT/distill_dynamic.json"
fi
for split in $SPLITS; do
  [ -s "$OUT/eval_${split}_dynamic.json" ] && continue
  mesh=--mesh; [ "$split" = train ] && mesh=--no-mesh  # 330 meshes take half an hour
  $HF eval "$model" --prompts "$RUN/$split.txt" $mesh --json | tail -n 1 > "$OUT/eval_${split}_dynamic.json.part"
  mv "$OUT/eval_${split}_dynamic.json.part" "$OUT/eval_${split}_dynamic.json"
done
echo "figures in $OUT/"
