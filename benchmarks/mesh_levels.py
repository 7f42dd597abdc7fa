"""Surface figures of a model's meshes cut at several density levels, per prompt and by shape.

    python benchmarks/mesh_levels.py default --prompts prompts/heldout.txt --jsonl levels.jsonl
    python benchmarks/mesh_levels.py runs/wfull/teachers/bowl.safetensors "a red bowl"
    python benchmarks/mesh_levels.py default --prompts prompts/heldout.txt --smooth 1 --rules shipped

Each prompt's scene is meshed as `hf generate` meshes it (outputs.scene_mesh at 128³, the
field's own blur or --smooth's, cavity filling) at four levels, as they are: SURFACE_FRACTION 0.5 (half the
median density at the rendered depth of opaque pixels), 0.75 and 1.0 of that median, and the
median at the rendered depth of *head-on* pixels only (the density gradient within about 26° of the
ray), where the studio's own field (density 100 · sigmoid(-sdf / 0.01)) puts its zero level;
and "shipped": what `hf generate` writes, the f0.5 level moved inward onto the rendered surface
(outputs.surface_gap, hfcli/inset.py).
Figures against the exact SDF (hfcli.metrics.surface_figures: normal consistency, area off by
more than 30°, mean distance off the true surface) and "back", the mean distance from the true
surface's samples to the nearest mesh vertex (what a hole or a missing part costs). Prints a
line per prompt, then the means by shape and overall with how many prompts meet the surface
bars (normals ≥ 0.975 and ≤ 5% off: "smooth"; distance ≤ 0.008: "near").
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from hfcli import checkpoint as ckpt_io
from hfcli import outputs
from hfcli.cli.common import read_prompt_file
from hfcli.evaluate import _true_surface_points
from hfcli.metrics import surface_figures
from hfcli.model import PromptModel
from hfcli.studio.shapes import shape_sdf
from hfcli.studio.vocab import parse_prompt

HEAD_ON_COS = 0.9
RULES = ("f0.5", "f0.75", "f1.0", "head-on", "shipped")


def probe_levels(scene, resolution: int = outputs.THRESHOLD_PROBE_RESOLUTION) -> tuple[float, float]:
    """(median density at the rendered depth of opaque pixels, the same over head-on pixels)."""
    points, directions = outputs.rendered_surface(scene, resolution)
    points.requires_grad_(True)
    sigma = scene.density(points)
    (grad,) = torch.autograd.grad(sigma.sum(), points)
    cos = (grad * directions).sum(-1) / grad.norm(dim=-1).clamp_min(1e-12)  # density rises inward
    sigma = sigma.detach()
    return float(sigma.median()), float(sigma[cos > HEAD_ON_COS].median())


def figures(mesh, shape: str) -> dict:
    out = surface_figures(mesh.vertices, mesh.faces, lambda p: shape_sdf(shape, p)[0])
    back, _ = cKDTree(mesh.vertices).query(_true_surface_points(shape))
    return {**{k: round(v, 4) for k, v in out.items()}, "back": round(float(back.mean()), 4)}


def summary(rows: list[dict]) -> str:
    n = np.mean([r["normal_consistency"] for r in rows])
    off = np.mean([r["faces_off_30"] for r in rows])
    dist = np.mean([r["surface_distance"] for r in rows])
    smooth = sum(r["normal_consistency"] >= 0.975 and r["faces_off_30"] <= 0.05 for r in rows)
    near = sum(r["surface_distance"] <= 0.008 for r in rows)
    return f"{n:.3f}, {100 * off:.1f}%, {dist:.4f} (smooth {smooth}/{len(rows)}, near {near})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="A teacher or student checkpoint, or 'default'.")
    ap.add_argument("prompts", nargs="*")
    ap.add_argument("--prompts", dest="prompts_file", help="A prompt file, one per line.")
    ap.add_argument("--jsonl", help="Also write each prompt's figures here, a JSON line each.")
    ap.add_argument("--resolution", type=int, default=128, help="The marching-cubes lattice (default 128).")
    ap.add_argument("--smooth", type=float, help="The blur before marching cubes, in voxels (default: the field's).")
    ap.add_argument(
        "--rules", default=",".join(RULES), help=f"Which meshes, comma-separated (default: {','.join(RULES)})."
    )
    args = ap.parse_args()
    prompts = list(args.prompts) + (read_prompt_file(Path(args.prompts_file)) if args.prompts_file else [])
    model = PromptModel.from_checkpoint(ckpt_io.load(args.model, kinds=("teacher", "student")))
    rules = args.rules.split(",")
    rows = []
    sink = open(args.jsonl, "w") if args.jsonl else None  # noqa: SIM115
    for prompt in prompts:
        shape = parse_prompt(prompt).shape
        scene = model.bake_tokens(model.encoder.encode([prompt]), [prompt])[0]
        median, head_on = probe_levels(scene)
        levels = dict(zip(RULES, (0.5 * median, 0.75 * median, median, head_on)))
        row = {"prompt": prompt, "shape": shape, "levels": {k: round(v, 2) for k, v in levels.items()}}
        for rule, level in levels.items():
            if rule in rules:
                mesh = outputs.scene_mesh(scene, args.resolution, threshold=level, smooth=args.smooth)
                row[rule] = figures(mesh, shape)
        if "shipped" in rules:
            start = time.perf_counter()
            mesh = outputs.scene_mesh(scene, args.resolution, smooth=args.smooth)
            row["shipped_seconds"] = round(time.perf_counter() - start, 3)
            row["shipped"] = figures(mesh, shape)
        rows.append(row)
        print(json.dumps(row), flush=True)
        if sink:
            sink.write(json.dumps(row) + "\n")
            sink.flush()
    by_shape = defaultdict(list)
    for row in rows:
        by_shape[row["shape"]].append(row)
    print(f"\n| shape | {' | '.join(rules)} |\n|---|" + "---|" * len(rules))
    for shape, group in [*by_shape.items(), ("all", rows)]:
        print(f"| {shape} | " + " | ".join(summary([r[rule] for r in group]) for rule in rules) + " |")
    if "shipped" in rules:
        print(f"shipped mesh: {np.mean([r['shipped_seconds'] for r in rows]):.2f} s a prompt")


if __name__ == "__main__":
    main()
