"""Pack a milestone of the world run's dynamic student into hfcli/weights/default.safetensors,
the model `hf generate` uses when no --model is given. Its header records how it was made: the
commands, the data split and the figures the run measured (benchmarks/world_run.sh writes
them), per prompt, so tests/test_default_model.py can re-measure the file against its record.

Usage: python benchmarks/bundle_default.py [RUN_DIR (runs/wfull)] [--steps 16000] [--variant dynamic]
       python benchmarks/bundle_default.py runs/wfull --milestone runs/wfull/surface_s18000 \
           --then "bash benchmarks/surface_run.sh   # EXTRA=2000 DENSITY=0.03"
       python benchmarks/bundle_default.py --restamp --mesh-smooth 0.5   # the bundled file, re-recorded

--mesh-smooth records the Gaussian blur its meshes get (FieldConfig.mesh_smooth_voxels; measured
with benchmarks/mesh_levels.py --smooth). --restamp changes only that in the bundled file itself
(its weights, record and figures stay) and adds the command to its recipe.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shlex
import subprocess
import sys
from pathlib import Path

from hfcli import checkpoint as ckpt_io
from hfcli.bundled import default_model_path
from hfcli.cli.common import read_prompt_file

SPLIT_RULE = (
    "the world's split: each shape holds out one whole pattern, zero-shot prompts combine trained "
    "words untrained together (hfcli/studio/split.py; docs/ARCHITECTURE.md)"
)


def _commands(steps: int) -> list[str]:
    return [
        "bash benchmarks/world_run.sh   # OUT=<run>: ten teachers, prompts/world/<shape>.txt, 1600 steps each",
        f"hf distill <run>/teachers/*.safetensors --prompts <run>/train.txt --out <run>/student_dynamic.safetensors --steps {steps}",
        f"hf eval <run>/s{steps}/student_dynamic.safetensors --prompts <run>/zeroshot.txt --mesh",
        f"hf eval <run>/s{steps}/student_dynamic.safetensors --prompts <run>/train.txt --no-mesh",
        f"python benchmarks/bundle_default.py <run> --steps {steps}",
    ]


def _this_command() -> str:
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


def _figures(eval_path: Path) -> dict:
    report = json.loads(eval_path.read_text())
    return {
        "mean": report["mean"],
        "baseline_mean": report["baseline_mean"],
        "prompts": len(report["prompts"]),
        # Per prompt, so tests/test_default_model.py can re-measure the record prompt by prompt.
        "per_prompt": {row["prompt"]: row["psnr"] for row in report["prompts"]},
    }


def restamp(mesh_smooth: float) -> None:
    out = default_model_path()
    ck = ckpt_io.load(out, kinds=("student",))
    ck.config["field"]["mesh_smooth_voxels"] = mesh_smooth
    ck.extra["bundle"]["commands"].append(_this_command())
    ckpt_io.save(ck, out)
    print(json.dumps({"out": str(out), "bytes": out.stat().st_size, "mesh_smooth_voxels": mesh_smooth}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", nargs="?", default="runs/wfull", type=Path)
    parser.add_argument("--steps", type=int, default=16000, help="the milestone to bundle (its s<steps>/ folder)")
    parser.add_argument("--variant", default="dynamic")
    parser.add_argument("--milestone", type=Path, help="the folder to pack from (default: RUN/s<steps>)")
    parser.add_argument("--then", action="append", default=[], help="a further command of the recipe, recorded")
    parser.add_argument("--mesh-smooth", type=float, help="the blur its meshes get, in voxels (default: the field's)")
    parser.add_argument("--restamp", action="store_true", help="only re-record --mesh-smooth in the bundled file")
    args = parser.parse_args()
    if args.restamp:
        if args.mesh_smooth is None:
            parser.error("--restamp re-records --mesh-smooth: give it")
        restamp(args.mesh_smooth)
        return
    milestone = args.milestone or args.run / f"s{args.steps}"
    ck = ckpt_io.load(milestone / f"student_{args.variant}.safetensors", kinds=("student",))
    if args.mesh_smooth is not None:
        ck.config["field"]["mesh_smooth_voxels"] = args.mesh_smooth
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    heldout = read_prompt_file(args.run / "zeroshot.txt")
    extra = {
        "made": datetime.date.today().isoformat(),
        "commit": commit,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, no GPU",
        # With a further leg (--then), that leg's script made and evaluated the milestone.
        "commands": _commands(args.steps)[:2] + args.then + [_this_command()] if args.then else _commands(args.steps),
        "split": {"train": ck.prompts, "heldout": heldout, "rule": SPLIT_RULE},
        "figures": {
            "train": _figures(milestone / f"eval_train_{args.variant}.json"),
            "heldout": _figures(milestone / f"eval_zeroshot_{args.variant}.json"),
            "colours_heldout": _figures(milestone / f"eval_colours_heldout_{args.variant}.json"),
        },
    }
    out = default_model_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt_io.save(ckpt_io.pack(ck, extra), out)
    print(json.dumps({"out": str(out), "bytes": out.stat().st_size, "figures": extra["figures"]}))


if __name__ == "__main__":
    main()
