"""Colour names a model never trained on: is its render nearest in colour to the right name?

    python benchmarks/colour_names.py runs/wfull/s4000/student_dynamic.safetensors --prompts prompts/world/colours_heldout.txt

For each prompt (a held-out colour X on a trained shape and finish), the model's render is set
against the studio's truth of the same shape and finish in X and in each of the 28 trained
colours (hfcli/studio/split.py: TRAIN_COLOURS), from the same cameras: the nearest truth by the
mean colour over the object (pixels the truth covers) names the colour the model showed. The
share named right is the figure; the name it chose instead is listed. Prints JSON, then a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfcli import checkpoint as ckpt_io  # noqa: E402
from hfcli.bundled import resolve_model  # noqa: E402
from hfcli.cli.common import read_prompt_file  # noqa: E402
from hfcli.model import PromptModel  # noqa: E402
from hfcli.outputs import render_views  # noqa: E402
from hfcli.render import cameras as cams  # noqa: E402
from hfcli.studio.split import TRAIN_COLOURS  # noqa: E402
from hfcli.studio.truth import GroundTruth  # noqa: E402
from hfcli.studio.vocab import StudioPrompt, parse_prompt  # noqa: E402

RESOLUTION = 32
VIEWS = 4


def mean_colour(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return images[mask].mean(dim=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--prompts", required=True, type=Path)
    args = ap.parse_args()
    prompts = read_prompt_file(args.prompts)
    model = PromptModel.from_checkpoint(ckpt_io.load(resolve_model(args.model), kinds=("teacher", "student")))
    full = cams.eval_cameras()
    cameras = cams.Cameras(full.c2w[:VIEWS], full.fov_x)
    rows = []
    for prompt, scene in zip(prompts, model.bake(prompts)):
        asked = parse_prompt(prompt)
        names = [asked.colour] + [c for c in TRAIN_COLOURS if c != asked.colour]
        candidates = [StudioPrompt(asked.shape, c, asked.finish).text for c in names]
        truth = GroundTruth(candidates)
        images, _ = render_views(scene, cameras, RESOLUTION)
        _, alpha = truth.views(0, cameras, RESOLUTION)
        mask = alpha > 0.9
        got = mean_colour(images, mask)
        distance = [
            float((mean_colour(truth.views(i, cameras, RESOLUTION)[0], mask) - got).norm()) for i in range(len(names))
        ]
        nearest = min(range(len(names)), key=distance.__getitem__)
        rows.append({"prompt": prompt, "asked": asked.colour, "nearest": names[nearest], "right": nearest == 0})
    share = sum(r["right"] for r in rows) / len(rows)
    print(json.dumps({"model": args.model, "prompts": len(rows), "share_nearest_right": round(share, 3), "rows": rows}))
    print(f"\n{sum(r['right'] for r in rows)} of {len(rows)} renders are nearest the asked colour ({share:.0%}).\n")
    print("| prompt | nearest colour among the asked and the 28 trained |")
    print("|---|---|")
    for r in rows:
        print(f"| {r['prompt']} | {'**' + r['nearest'] + '**' if r['right'] else r['nearest']} |")


if __name__ == "__main__":
    main()
