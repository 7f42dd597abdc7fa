#!/usr/bin/env bash
# The full run at the world's scale ("The student at scale"): ten shape teachers over the
# world's 330 training prompts (prompts/world/<shape>.txt), then the dynamic student (and the
# static ablation with STATIC=1) to step milestones, each evaluated on the zero-shot
# combinations, the held-out colour names and the training prompts. Rerunnable and resumable
# across sessions: every finished piece is skipped, a killed teach or distill continues with
# --resume from its last save. One thing at a time on a 2-core machine.
#
#   bash benchmarks/world_run.sh
#   STATIC=1 STUDENT_STEPS=4000 SPLITS=zeroshot MESH=0 bash benchmarks/world_run.sh   # the ablation
#   TEACH_STEPS=20 STUDENT_STEPS="10 20" SHAPES="bowl plate" OUT=runs/world_smoke bash benchmarks/world_run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HF=${HF:-hf}
OUT=${OUT:-runs/world}
SHAPES=${SHAPES:-"chair pot toaster bench stool bowl vase skateboard knife plate"}
# 1600 steps: the chair's 33 world prompts reach 43.35 dB with their patterns resolved; at 400
# they stay blurred at 34.36 dB (BENCHMARKS.md, "The bigger world").
TEACH_STEPS=${TEACH_STEPS:-1600}
# 0.16 s a step on this machine (2 threads): 4000 steps left the student 8 dB under its
# teachers on the training prompts, so the milestones go on.
# STUDENT_STEPS="": the teachers alone.
STUDENT_STEPS=${STUDENT_STEPS-"4000 8000 16000"}
# The static ablation needs only the zero-shot images: STATIC=1 STUDENT_STEPS=4000 SPLITS=zeroshot MESH=0
SPLITS=${SPLITS:-"zeroshot colours_heldout train"}
MESH=${MESH:-1}
mkdir -p "$OUT/teachers"

resume_flag() { [ -f "$1" ] && echo --resume || true; }
prompts_of() { grep -v '^#' "$1" | grep -E " ($(echo "$SHAPES" | tr ' ' '|'))\$" || true; }

prompts_of prompts/world/train.txt > "$OUT/train.txt"
prompts_of prompts/world/zeroshot.txt > "$OUT/zeroshot.txt"
prompts_of prompts/world/colours_heldout.txt > "$OUT/colours_heldout.txt"

for shape in $SHAPES; do
  out="$OUT/teachers/$shape.safetensors"
  [ -s "$OUT/teachers/$shape.json" ] && continue
  $HF teach "prompts/world/$shape.txt" --out "$out" --steps "$TEACH_STEPS" $(resume_flag "$out") --json \
    | tail -n 1 > "$OUT/teachers/$shape.json.part"
  mv "$OUT/teachers/$shape.json.part" "$OUT/teachers/$shape.json"
done

# Each student trains to the first milestone, is evaluated, then resumes to the next.
student() {  # variant
  local variant=$1 flag= n model="$OUT/student_$1.safetensors" split
  [ "$variant" = static ] && flag=--static
  for n in $STUDENT_STEPS; do
    mkdir -p "$OUT/s$n"
    if [ ! -s "$OUT/s$n/distill_$variant.json" ]; then
      # A checkpoint short of n steps (a killed run, or the previous milestone) resumes.
      $HF distill "$OUT"/teachers/*.safetensors --prompts "$OUT/train.txt" --out "$model" \
        $flag --steps "$n" $(resume_flag "$model") --json | tail -n 1 > "$OUT/s$n/distill_$variant.json.part"
      mv "$OUT/s$n/distill_$variant.json.part" "$OUT/s$n/distill_$variant.json"
      cp "$model" "$OUT/s$n/"
    fi
    for split in $SPLITS; do
      [ -s "$OUT/s$n/eval_${split}_$variant.json" ] && continue
      # 330 training prompts with meshes take half an hour: images only for them.
      mesh=--mesh; { [ "$split" = train ] || [ "$MESH" = 0 ]; } && mesh=--no-mesh
      $HF eval "$OUT/s$n/student_$variant.safetensors" --prompts "$OUT/$split.txt" $mesh --json \
        | tail -n 1 > "$OUT/s$n/eval_${split}_$variant.json.part"
      mv "$OUT/s$n/eval_${split}_$variant.json.part" "$OUT/s$n/eval_${split}_$variant.json"
    done
  done
}
student dynamic
[ "${STATIC:-0}" = 1 ] && student static
echo "figures in $OUT/s*/"
