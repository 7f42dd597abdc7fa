"""Textured mesh PSNR of the two mesh rules against the two references, per prompt.

    python benchmarks/mesh_reference.py default prompts/heldout.txt > mesh_reference.jsonl

Rules: "level", the field's smooth outer level as it is (outputs.surface_threshold, what was
shipped before 2026-12-02), and "inset", that level moved onto the rendered surface (what
`hf generate` writes now). References: "surface", the truth's exact surface drawn as a mesh
(evaluate.mesh_psnr, `hf eval`'s mesh PSNR now), and "volume", the studio's own views, volume
renders of its soft density (the reference before). Both meshes are textured at the default
settings (outputs.mesh_for_file). Prints a JSON line per prompt, then the means.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from hfcli import checkpoint as ck
from hfcli import outputs
from hfcli.cli.common import read_prompt_file
from hfcli.evaluate import mesh_psnr, render_mesh_views
from hfcli.metrics import psnr
from hfcli.model import PromptModel
from hfcli.output_config import MeshConfig
from hfcli.render import cameras as cams
from hfcli.studio.truth import GroundTruth


def main() -> None:
    model = PromptModel.from_checkpoint(ck.load(sys.argv[1], kinds=("teacher", "student")))
    rows = []
    for prompt in read_prompt_file(Path(sys.argv[2])):
        scene, truth = model.bake([prompt])[0], GroundTruth([prompt])
        volume = truth.render_views(0, cams.eval_cameras(), 64)
        row = {"prompt": prompt}
        for rule, threshold in (("level", outputs.surface_threshold(scene)), ("inset", None)):
            mesh, _, _ = outputs.mesh_for_file(scene, MeshConfig(), "glb", threshold)
            drawn = render_mesh_views(mesh, cams.eval_cameras())
            against_volume = float(np.mean([psnr(a, b) for a, b in zip(drawn, volume)]))
            row[rule] = {"surface": mesh_psnr(mesh, truth, 0), "volume": round(against_volume, 4)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    means = {
        r: {ref: round(float(np.mean([x[r][ref] for x in rows])), 2) for ref in ("surface", "volume")}
        for r in ("level", "inset")
    }
    print(json.dumps({"means": means}))


if __name__ == "__main__":
    main()
