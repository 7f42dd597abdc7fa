"""Pack the full run's dynamic student into hfcli/weights/default.safetensors, the model that
`hf generate` uses when no --model is given. Its header records how it was made: the commands,
the data split and the figures of the run (benchmarks/full_run.sh writes them).

Usage: python benchmarks/bundle_default.py [RUN_DIR (runs/full)] [--variant dynamic]
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
from pathlib import Path

from hfcli import checkpoint as ckpt_io
from hfcli.bundled import default_model_path

SPLIT_RULE = "shape i trains colours (i + k) mod 8, k < 5 (docs/ARCHITECTURE.md, 'The studio vocabulary and the zero-shot split')"
COMMANDS = [
    "hf teach prompts/<shape>.txt --out <run>/teachers/<shape>.safetensors   # for each of the 10 shapes",
    "hf distill <run>/teachers/*.safetensors --prompts <run>/train.txt --out <run>/student_dynamic.safetensors",
    "hf eval <run>/student_dynamic.safetensors --prompts <run>/train.txt",
    "hf eval <run>/student_dynamic.safetensors --prompts <run>/heldout.txt",
    "python benchmarks/bundle_default.py <run>",
]


def _figures(eval_path: Path) -> dict:
    report = json.loads(eval_path.read_text())
    return {
        "mean": report["mean"],
        "baseline_mean": report["baseline_mean"],
        "prompts": len(report["prompts"]),
        # Per prompt, so tests/test_default_model.py can re-measure the record prompt by prompt.
        "per_prompt": {row["prompt"]: row["psnr"] for row in report["prompts"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run", nargs="?", default="runs/full")
    parser.add_argument("--variant", default="dynamic")
    args = parser.parse_args()
    run = Path(args.run)
    ck = ckpt_io.load(run / f"student_{args.variant}.safetensors", kinds=("student",))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    heldout = [p for p in (run / "heldout.txt").read_text().splitlines() if p.strip()]
    extra = {
        "made": datetime.date.today().isoformat(),
        "commit": commit,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, no GPU",
        "commands": COMMANDS,
        "split": {"train": ck.prompts, "heldout": heldout, "rule": SPLIT_RULE},
        "figures": {
            "train": _figures(run / f"eval_train_{args.variant}.json"),
            "heldout": _figures(run / f"eval_heldout_{args.variant}.json"),
        },
    }
    out = default_model_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    ckpt_io.save(ckpt_io.pack(ck, extra), out)
    print(json.dumps({"out": str(out), "bytes": out.stat().st_size, "figures": extra["figures"]}))


if __name__ == "__main__":
    main()
