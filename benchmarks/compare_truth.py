"""A model's render of studio prompts beside their exact ground truth, from the same cameras.

    python benchmarks/compare_truth.py runs/world/chair.safetensors "a yarn chair" --out docs/yarn_chair.png

One row per prompt: the model's views, then the truth's (PSNR of each pair on stdout as JSON).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hfcli.imageio import save_png  # noqa: E402
from hfcli.metrics import psnr  # noqa: E402
from hfcli.model import load_scene  # noqa: E402
from hfcli.outputs import render_views  # noqa: E402
from hfcli.render import cameras as cams  # noqa: E402
from hfcli.studio.truth import GroundTruth  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("prompts", nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--azimuths", type=float, nargs="+", default=[30.0, 210.0])
    args = ap.parse_args()
    cameras = cams.orbit_cameras(args.azimuths, [25.0] * len(args.azimuths))
    truth = GroundTruth(args.prompts)
    rows, figures = [], {}
    for i, prompt in enumerate(args.prompts):
        scene, _ = load_scene(args.model, prompt)
        pred, _ = render_views(scene, cameras, args.resolution)
        gt = truth.render_views(i, cameras, args.resolution)
        figures[prompt] = [round(psnr(p, g), 2) for p, g in zip(pred, gt)]
        rows.append(torch.cat([*pred, *gt], dim=1))
    save_png(torch.cat(rows, dim=0).clamp(0, 1).numpy(), args.out)
    print(json.dumps({"out": str(args.out), "psnr_per_view": figures}))


if __name__ == "__main__":
    main()
