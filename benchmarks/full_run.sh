#!/usr/bin/env bash
# The full studio run of "The student": ten shape teachers, a dynamic and a static student,
# and their evaluation on the 50 training and 30 held-out prompts. Rerunnable; every figure
# lands as JSON in $OUT. Run one thing at a time on a 2-core machine (torch processes fight).
#
#   bash benchmarks/full_run.sh                      # defaults of hf teach / hf distill
#   PARALLEL=1 bash benchmarks/full_run.sh           # both students at once, half the cores each
#   TEACH_STEPS=20 STUDENT_STEPS="10 20" SHAPES="bowl plate" OUT=runs/smoke bash benchmarks/full_run.sh
#   SHARD=0/4 bash benchmarks/full_run.sh             # only the teachers of shard 0 of 4 (hf teach --shard),
#                                                    # e.g. SHARD=$SLURM_ARRAY_TASK_ID/4 in a Slurm array;
#                                                    # then run without SHARD to distil (taught ones are kept)
set -euo pipefail
cd "$(dirname "$0")/.."
HF=${HF:-hf}
OUT=${OUT:-runs/full}
SHAPES=${SHAPES:-"chair pot toaster bench stool bowl vase skateboard knife plate"}
mkdir -p "$OUT/teachers"

step_flag() { [ -n "${1:-}" ] && echo "--steps $1" || true; }

if [ -n "${SHARD:-}" ]; then  # this machine's slice of the teachers, then stop: students need them all
  files=""
  for shape in $SHAPES; do files="$files prompts/$shape.txt"; done
  tag=$(echo "$SHARD" | tr / _)
  # shellcheck disable=SC2086
  $HF teach $files --shard "$SHARD" --out-dir "$OUT/teachers" --resume $(step_flag "${TEACH_STEPS:-}") --json \
    | tail -n 1 > "$OUT/teachers/shard_$tag.json"
  exit 0
fi

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

# Each student trains to the first of STUDENT_STEPS, is evaluated, then resumes to the next,
# and so on: one run gives the figures at every milestone ($OUT/s<steps>/), the last of them
# also in $OUT itself. The two students share nothing, so on a multi-core machine they may
# train side by side (PARALLEL=1 gives each half the cores).
STUDENT_STEPS=${STUDENT_STEPS:-"3000 4000"}
student() {  # variant
  local variant=$1 flag= resume= n
  [ "$variant" = static ] && flag=--static
  for n in $STUDENT_STEPS; do
    mkdir -p "$OUT/s$n"
    if [ ! -s "$OUT/s$n/eval_heldout_$variant.json" ]; then
      [ -f "$OUT/student_$variant.safetensors" ] && resume=--resume
      $HF distill "$OUT"/teachers/*.safetensors --prompts "$train_prompts" --out "$OUT/student_$variant.safetensors" \
        $flag --steps "$n" $resume --json | tail -n 1 > "$OUT/s$n/distill_$variant.json"
      for split in train heldout; do
        $HF eval "$OUT/student_$variant.safetensors" --prompts "$OUT/$split.txt" --json | tail -n 1 > "$OUT/s$n/eval_${split}_$variant.json"
      done
      cp "$OUT/student_$variant.safetensors" "$OUT/s$n/"
    fi
    cp "$OUT/s$n/"*"_$variant.json" "$OUT/"
  done
}
if [ "${PARALLEL:-0}" = 1 ]; then
  half=$(( $(nproc) / 2 > 0 ? $(nproc) / 2 : 1 ))
  OMP_NUM_THREADS=$half student dynamic & OMP_NUM_THREADS=$half student static & wait
else
  student dynamic
  student static
fi
echo "figures in $OUT/*.json"
