"""The same scene whatever the wording: a model's PSNR on prompts reworded in the held-out
templates (hfcli/studio/wording.py: HELD_OUT, words its training never read) against the plain
wording, every reworded prompt scored against its plain prompt's ground truth.

    python benchmarks/wording.py default --prompts prompts/heldout.txt
    python benchmarks/wording.py runs/wfull/s4000/student_dynamic.safetensors --prompts runs/wfull/zeroshot.txt

Prints one JSON object (per template: mean PSNR, its difference from plain, the share of
prompts that lose more than 3 dB, the worst prompt), then a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfcli import checkpoint as ckpt_io  # noqa: E402
from hfcli.bundled import resolve_model  # noqa: E402
from hfcli.cli.common import read_prompt_file  # noqa: E402
from hfcli.evaluate import evaluate_scenes  # noqa: E402
from hfcli.model import PromptModel  # noqa: E402
from hfcli.studio import wording  # noqa: E402
from hfcli.studio.truth import GroundTruth  # noqa: E402

BIG_LOSS_DB = 3.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="a student or teacher checkpoint, or 'default'")
    ap.add_argument("--prompts", required=True, type=Path, help="prompt file (one studio prompt a line)")
    ap.add_argument("--stride", type=int, default=1, help="every Nth prompt only (a sample across the file)")
    args = ap.parse_args()
    prompts = read_prompt_file(args.prompts)
    prompts = prompts[:: args.stride]
    model = PromptModel.from_checkpoint(ckpt_io.load(resolve_model(args.model), kinds=("teacher", "student")))
    truth = GroundTruth(prompts)
    start = time.perf_counter()

    def score(worded: list[str]) -> list[float]:
        return list(evaluate_scenes(model.bake(worded), truth)["per_prompt"].values())

    plain = score(prompts)
    rows = {"plain": {"example": prompts[0], "psnr": round(sum(plain) / len(plain), 3)}}
    for name, template in wording.HELD_OUT.items():
        worded = [template(p) for p in prompts]
        got = score(worded)
        drops = [a - b for a, b in zip(plain, got)]
        worst = max(range(len(drops)), key=drops.__getitem__)
        rows[name] = {
            "example": worded[0],
            "psnr": round(sum(got) / len(got), 3),
            "vs_plain": round((sum(got) - sum(plain)) / len(got), 3),
            "share_losing_3db": round(sum(d > BIG_LOSS_DB for d in drops) / len(drops), 3),
            "worst": {"prompt": worded[worst], "drop": round(drops[worst], 2)},
        }
    reworded = [r["psnr"] for name, r in rows.items() if name != "plain"]
    mean = sum(reworded) / len(reworded)
    summary = {
        "model": args.model,
        "prompts": len(prompts),
        "templates": rows,
        "mean_reworded": round(mean, 3),
        "mean_vs_plain": round(mean - rows["plain"]["psnr"], 3),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(json.dumps(summary))
    print("\n| wording | example | PSNR | vs plain | share losing > 3 dB | worst (its loss) |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        if name == "plain":
            print(f"| plain | {r['example']} | {r['psnr']:.2f} | | | |")
            continue
        worst = f"{r['worst']['prompt']} ({-r['worst']['drop']:+.1f} dB)"
        print(
            f"| {name} | {r['example']} | {r['psnr']:.2f} | {r['vs_plain']:+.2f} | {r['share_losing_3db']:.0%} | {worst} |"
        )


if __name__ == "__main__":
    main()
