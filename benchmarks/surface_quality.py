"""How smooth and how true a model's `hf generate` meshes are, against the studio's exact SDF.

    python benchmarks/surface_quality.py default "a pink chair" "a purple bowl" "a red pot" "a mint vase"
    python benchmarks/surface_quality.py runs/world/student.safetensors --prompts prompts/heldout.txt

Each prompt is meshed as `hf generate` meshes it (one forward pass of the hypernetwork, then
outputs.scene_mesh at --resolution, 128 by default, at the field's own surface threshold), and
measured face by face against the shape's exact signed distance (hfcli.metrics.surface_figures):
normal consistency (area-weighted mean |cos| between face normal and SDF gradient), the
area-weighted share of faces more than 30° off, the mean |sdf| at face centroids, and the face
count. The last rows are each shape's true SDF meshed by the same marching cubes at the same
resolution (the ceiling). `--face-count` adds the same figures with every face counted once.
Prints JSON on stdout, then a markdown table.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from hfcli import checkpoint as ckpt_io
from hfcli.evaluate import _true_mesh
from hfcli.metrics import surface_figures
from hfcli.model import PromptModel
from hfcli.outputs import scene_mesh
from hfcli.studio.shapes import shape_sdf
from hfcli.studio.vocab import parse_prompt


def figures(mesh, shape: str, face_count: bool) -> dict:
    def sdf(p: torch.Tensor) -> torch.Tensor:
        return shape_sdf(shape, p)[0]

    out = {k: round(v, 4) for k, v in surface_figures(mesh.vertices, mesh.faces, sdf).items()}
    out["faces"] = len(mesh.faces)
    if face_count:
        flat = surface_figures(mesh.vertices, mesh.faces, sdf, area_weighted=False)
        out.update({f"{k}_by_count": round(v, 4) for k, v in flat.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", help="A teacher or student checkpoint, or 'default'.")
    ap.add_argument("prompts", nargs="*")
    ap.add_argument("--prompts", dest="prompts_file", help="A prompt file, one per line.")
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--face-count", action="store_true", help="Also the figures with faces unweighted.")
    args = ap.parse_args()
    prompts = list(args.prompts)
    if args.prompts_file:
        with open(args.prompts_file) as fh:
            prompts += [line.strip() for line in fh if line.strip() and not line.startswith("#")]
    model = PromptModel.from_checkpoint(ckpt_io.load(args.model, kinds=("teacher", "student")))
    rows, truth = {}, {}
    for prompt in prompts:
        shape = parse_prompt(prompt).shape
        t0 = time.perf_counter()
        scene = model.bake_tokens(model.encoder.encode([prompt]), [prompt])[0]
        mesh = scene_mesh(scene, args.resolution)
        t1 = time.perf_counter()
        rows[prompt] = {"shape": shape, **figures(mesh, shape, args.face_count)}
        rows[prompt]["seconds"] = {"generate": round(t1 - t0, 2), "figures": round(time.perf_counter() - t1, 2)}
        if shape not in truth:
            truth[shape] = figures(_true_mesh(shape, args.resolution), shape, args.face_count)
    print(json.dumps({"model": args.model, "resolution": args.resolution, "prompts": rows, "truth": truth}, indent=1))

    print(f"\n| mesh ({args.model}, `hf generate` at {args.resolution}³) | faces | normal consistency "
          "| faces off by > 30° | mean distance off the true surface |")  # fmt: skip
    print("|---|---|---|---|---|")
    labelled = [(f'"{p}"', r) for p, r in rows.items()]
    labelled += [(f"true {s} SDF, same marching cubes", r) for s, r in truth.items()]
    for label, r in labelled:
        print(f"| {label} | {r['faces']:,} | {r['normal_consistency']:.3f} | {100 * r['faces_off_30']:.1f}% "
              f"| {r['surface_distance']:.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
