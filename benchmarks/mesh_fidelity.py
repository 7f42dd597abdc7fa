"""How faithful the written meshes are, how big, and how long they take.

    python benchmarks/mesh_fidelity.py fidelity [--model default] [--prompts prompts/heldout.txt]
    python benchmarks/mesh_fidelity.py ceiling [--prompts prompts/heldout.txt]
    python benchmarks/mesh_fidelity.py stages [--runs 5]
    python benchmarks/mesh_fidelity.py fresh [--runs 5]

fidelity: per prompt, PSNR against the studio's truth at the 16 eval cameras (64², on white) of
the NeRF, of the textured mesh `hf generate` writes, of a vertex-coloured mesh at the same face
budget, and of today's --vertex-colors mesh (every marching-cubes triangle); file sizes.
ceiling: the same PSNR for the studio's exact surface (its SDF's zero level, marching cubes at
160³, coloured exactly), as it is and pushed out along its normals: what any opaque mesh can
score against a soft-boundaried volume render.
stages: generate_many's per-stage seconds with the model loaded (after one warm-up job).
fresh: whole `hf generate "a pink chair" --out X.glb` processes, textured and --vertex-colors
alternating, timed from outside. Run it alone: torch processes on 2 cores slow each other down.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from hfcli import checkpoint as ck
from hfcli.evaluate import image_metrics, mesh_psnr
from hfcli.mesh_io import write_mesh
from hfcli.model import PromptModel
from hfcli.output_config import TEXTURED_FACES, MeshConfig
from hfcli.outputs import mesh_for_file
from hfcli.studio.truth import GroundTruth

ROOT = Path(__file__).resolve().parents[1]


def _prompts(path: str) -> list[str]:
    lines = Path(path).read_text().splitlines()
    return [p.strip() for p in lines if p.strip() and not p.lstrip().startswith("#")]


def _size(mesh, tmp: Path, name: str) -> int:
    write_mesh(mesh, tmp / name)
    return (tmp / name).stat().st_size


def fidelity(args) -> None:
    prompts = _prompts(args.prompts)
    model = PromptModel.from_checkpoint(ck.load(args.model, kinds=("teacher", "student")))
    truth = GroundTruth(prompts)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, prompt in enumerate(prompts):
            scene = model.bake([prompt])[0]
            textured, _, seconds = mesh_for_file(scene, MeshConfig())
            same_budget, _, _ = mesh_for_file(scene, MeshConfig(vertex_colors=True, faces=TEXTURED_FACES))
            dense, _, _ = mesh_for_file(scene, MeshConfig(vertex_colors=True))
            row = {
                "prompt": prompt,
                "nerf": image_metrics(scene, truth, i)["psnr"],
                "textured": mesh_psnr(textured, truth, i),
                "vertex_same_faces": mesh_psnr(same_budget, truth, i),
                "vertex_dense": mesh_psnr(dense, truth, i),
                "faces": [len(textured.faces), len(same_budget.faces), len(dense.faces)],
                "bytes": [_size(m, Path(tmp), f"{k}.glb") for k, m in enumerate((textured, same_budget, dense))],
                "seconds": {k: round(v, 3) for k, v in seconds.items()},
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    keys = ("nerf", "textured", "vertex_same_faces", "vertex_dense")
    print(json.dumps({"mean": {k: round(statistics.mean(r[k] for r in rows), 3) for k in keys}, "prompts": len(rows)}))


def ceiling(args) -> None:
    from hfcli.export import extract_mesh
    from hfcli.studio.shapes import shape_sdf
    from hfcli.studio.truth import scene_query

    prompts = _prompts(args.prompts)
    truth = GroundTruth(prompts)
    offsets = (0.0, 0.01, 0.02, 0.03, 0.04)
    table = {o: [] for o in offsets}
    for i, prompt in enumerate(prompts):
        p = truth.parsed[i]
        colour = scene_query(p.shape, torch.tensor(p.albedo), p.finish)
        exact = extract_mesh(
            lambda x, s=p.shape: -shape_sdf(s, x)[0],
            lambda x, c=colour: c(x)[1],
            threshold=0.0,
            resolution=160,
            fill_cavities=False,
        )
        row = {"prompt": prompt}
        for o in offsets:
            exact_o = type(exact)(exact.vertices + o * exact.normals, exact.faces, exact.colors, exact.normals)
            row[str(o)] = mesh_psnr(exact_o, truth, i)
            table[o].append(row[str(o)])
        print(json.dumps(row), flush=True)
    print(json.dumps({"mean": {str(o): round(statistics.mean(v), 3) for o, v in table.items()}}))


def stages(args) -> None:
    from hfcli.generate import generate_many

    with tempfile.TemporaryDirectory() as tmp:
        for label, cfg in (("textured", MeshConfig()), ("vertex-colors", MeshConfig(vertex_colors=True))):
            jobs = [(args.prompt, Path(tmp) / f"{i}.glb") for i in range(args.runs + 1)]
            results = generate_many(Path(args.model), jobs, cfg)[1:]  # the first is a warm-up
            names = [k for k in results[0]["seconds"] if k not in ("load", "extras")]
            totals = [sum(r["seconds"][k] for k in names) for r in results]
            print(
                json.dumps(
                    {
                        "output": label,
                        "total_s_median": round(statistics.median(totals), 3),
                        "total_s_range": [round(min(totals), 3), round(max(totals), 3)],
                        "stages_median_s": {
                            k: round(statistics.median(r["seconds"][k] for r in results), 3) for k in names
                        },
                        "faces": results[0]["faces"],
                        "bytes": (Path(tmp) / "1.glb").stat().st_size,
                    }
                ),
                flush=True,
            )


def fresh(args) -> None:
    hf = Path(sys.executable).with_name("hf")
    walls: dict[str, list[float]] = {"textured": [], "vertex-colors": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for label, extra in (("textured", []), ("vertex-colors", ["--vertex-colors"])):
                cmd = [str(hf), "generate", args.prompt, "--out", str(Path(tmp) / f"{label}{i}.glb"), *extra]
                start = time.perf_counter()
                subprocess.run(cmd, capture_output=True, text=True, check=True)
                walls[label].append(time.perf_counter() - start)
    medians = {k: statistics.median(v) for k, v in walls.items()}
    print(
        json.dumps(
            {
                "runs_s": {k: [round(w, 3) for w in v] for k, v in walls.items()},
                "median_s": {k: round(m, 3) for k, m in medians.items()},
                "textured_minus_vertex_colors_s": round(medians["textured"] - medians["vertex-colors"], 3),
                "paired_differences_s": [round(a - b, 3) for a, b in zip(walls["textured"], walls["vertex-colors"])],
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=("fidelity", "ceiling", "stages", "fresh"))
    parser.add_argument("--model", default="default")
    parser.add_argument("--prompts", default=str(ROOT / "prompts" / "heldout.txt"))
    parser.add_argument("--prompt", default="a pink chair")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    {"fidelity": fidelity, "ceiling": ceiling, "stages": stages, "fresh": fresh}[args.what](args)


if __name__ == "__main__":
    main()
