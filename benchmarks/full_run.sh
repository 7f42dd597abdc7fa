#!/usr/bin/env bash
# The full studio run of "The student": ten shape teachers, a dynamic and a static student,
# and their evaluation on the 50 training and 30 held-out prompts. Rerunnable; every figure
# lands as JSON in $OUT. Run one thing at a time on a 2-core machine (torch processes fight).
#
#   bash benchmarks/full_run.sh                      # defaults of hf teach / hf distill
#   PARALLEL=1 bash benchmarks/full_run.sh           # both students at once, half the cores each
#   TEACH_STEPS=20 DISTILL_STEPS=20 SHAPES="bowl plate" OUT=runs/smoke bash benchmarks/full_run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HF=${HF:-hf}
OUT=${OUT:-runs/full}
SHAPES=${SHAPES:-"chair pot toaster bench stool bowl vase skateboard knife plate"}
mkdir -p "$OUT/teachers"

step_flag() { [ -n "${1:-}" ] && echo "--steps $1" || true; }

train_prompts="$OUT/train.txt"
heldout_prompts="$OUT/heldout.txt"
: > "$train_prompts"
: > "$heldout_prompts"
for shape in $SHAPES; do
  grep -v '^#' "prompts/$shape.txt" >> "$train_prompts"
  grep -v '^#' prompts/heldout.txt | grep " $shape\$" >> "$heldout_prompts" || true
  [ -f "$OUT/teachers/$shape.safetensors" ] ||
    $HF teach "prompts/$shape.txt" --out "$OUT/teachers/$shape.safetensors" $(step_flag "${TEACH_STEPS:-}") --json \
      | tail -n 1 > "$OUT/teachers/$shape.json"
done

# The two students share nothing, so on a multi-core machine they may train side by side
# (PARALLEL=1 gives each half the cores: OMP_NUM_THREADS=$((cores / 2))).
student() {  # variant
  local variant=$1 flag=
  [ "$variant" = static ] && flag=--static
  [ -f "$OUT/student_$variant.safetensors" ] ||
    $HF distill "$OUT"/teachers/*.safetensors --prompts "$train_prompts" --out "$OUT/student_$variant.safetensors" \
      $flag $(step_flag "${DISTILL_STEPS:-}") --json | tail -n 1 > "$OUT/distill_$variant.json"
  $HF eval "$OUT/student_$variant.safetensors" --prompts "$train_prompts" --json | tail -n 1 > "$OUT/eval_train_$variant.json"
  $HF eval "$OUT/student_$variant.safetensors" --prompts "$heldout_prompts" --json | tail -n 1 > "$OUT/eval_heldout_$variant.json"
}
if [ "${PARALLEL:-0}" = 1 ]; then
  half=$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))
  OMP_NUM_THREADS=$half student dynamic & OMP_NUM_THREADS=$half student static & wait
else
  student dynamic
  student static
fi
echo "figures in $OUT/*.json"
