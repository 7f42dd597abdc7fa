#!/usr/bin/env bash
# The first run of hfcli's CUDA path on a GPU (it has never run on one): build the CUDA
# kernels, their parity tests against the CPU reference, the placement test, then generate,
# a short teach and a short distill with --device cuda, each timed, and a render timing
# CUDA against the CPU. About 5 minutes on one H200; figures and logs go to $OUT.
#
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh                     # on the GPU machine
#   OUT=/tmp/cpu DEVICE=cpu STEPS=4 bash benchmarks/gpu_check.sh  # its CPU-safe parts, to check it
set -euo pipefail
: "${OUT:?set OUT to a directory for the figures}"
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-200}
PY=${PYTHON:-python}
mkdir -p "$OUT"
export HF_HUB_OFFLINE=1
cd "$(dirname "$0")/.."
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }
timed() {  # timed NAME CMD...: runs CMD, logs it to $OUT/NAME.log, records its seconds and exit code
    local name=$1 start rc
    shift
    start=$(date +%s%N)
    set +e
    "$@" >"$OUT/$name.log" 2>&1
    rc=$?
    set -e
    printf '%s\t%s\trc=%s\t%d ms\n' "$name" "$*" "$rc" "$((($(date +%s%N) - start) / 1000000))" | tee -a "$OUT/summary.txt"
    return 0  # go on: every step's figure is worth having even when one fails
}

log "machine"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  $PY -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())'
} 2>&1 | tee -a "$OUT/summary.txt"

if [ "$DEVICE" = cuda ]; then
    timed build "$PY" -m hfcli.render.backend --build
    # The CUDA kernels against the CPU reference: samples, images, gradients (skipped without CUDA).
    timed parity "$PY" -m pytest tests/test_raymarch_ext.py -q -x
fi
timed placement "$PY" -m pytest tests/test_device_placement.py -q -x

timed generate "$PY" -m hfcli generate "a yarn bowl" --device "$DEVICE" --out "$OUT/bowl.glb" --preview "$OUT/bowl.png" --json
timed teach "$PY" -m hfcli teach prompts/bowl.txt --device "$DEVICE" --steps "$STEPS" --out "$OUT/bowl_teacher.safetensors" --json
if [ -f "$OUT/bowl_teacher.safetensors" ]; then
    timed distill "$PY" -m hfcli distill "$OUT/bowl_teacher.safetensors" --device "$DEVICE" --steps "$((STEPS / 2))" \
        --out "$OUT/student.safetensors" --json
    timed eval "$PY" -m hfcli eval "$OUT/student.safetensors" --prompts prompts/bowl.txt --no-mesh --device "$DEVICE" --json
fi

# benchmarks/raymarch_speed.py times the CPU backends only; this times an inference render of
# the bundled model on $DEVICE against the CPU's, and checks the two images agree.
timed render_speed "$PY" - "$DEVICE" "$OUT/render_speed.json" <<'PYEOF'
import json, sys, time
import torch
from hfcli import checkpoint as ckpt_io
from hfcli.model import PromptModel
from hfcli.outputs import render_views
from hfcli.render import cameras as cams

device, out = sys.argv[1], sys.argv[2]
figures = {}
images = {}
for dev in dict.fromkeys(["cpu", device]):
    scene = PromptModel.from_checkpoint(ckpt_io.load("default"), device=dev).bake(["a yarn bowl"])[0]
    cameras = cams.eval_cameras()
    render_views(scene, cameras, 64)  # warm-up: kernel builds and loads
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    img, _ = render_views(scene, cameras, 256)
    sync()
    seconds = time.perf_counter() - start
    images[dev] = img.cpu()
    figures[dev] = {"seconds_16_views_256px": round(seconds, 3), "rays_per_s": round(16 * 256 * 256 / seconds)}
figures["max_abs_diff_vs_cpu"] = float((images[device] - images["cpu"]).abs().max())
print(json.dumps(figures))
json.dump(figures, open(out, "w"), indent=1)
PYEOF

log "done: $OUT/summary.txt"
