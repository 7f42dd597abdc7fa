"""The raymarcher backends side by side: rays per second for inference renders and training
steps, and optionally a whole `hf teach`, PyTorch against C++ (and CUDA where present).

    python benchmarks/raymarch_speed.py [--repeats 5] [--teach prompts/bowl.txt]

Each figure alternates the backends run by run in one process, so machine noise hits both
alike; medians with min-max are printed as JSON. Time spent in the field's forward passes
(encoding + MLP, the same code on every backend) is measured apart: for inference renders the
rest is marching and compositing.
Run it alone: torch processes on a 2-core machine slow each other down.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from hfcli import checkpoint as ckpt_io
from hfcli.bundled import default_model_path
from hfcli.model import PromptModel
from hfcli.render import backend
from hfcli.render import cameras as cams
from hfcli.render.renderer import render_image_batches, render_rays


class TimedQuery:
    """Wraps a field query and adds up the seconds spent in it."""

    def __init__(self, query):
        self.query, self.seconds = query, 0.0

    def __call__(self, points, scene):
        start = time.perf_counter()
        out = self.query(points, scene)
        self.seconds += time.perf_counter() - start
        return out


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 4), "min": round(min(values), 4), "max": round(max(values), 4)}


def side_by_side(names: list[str], run, repeats: int) -> dict:
    """run() → (seconds, field_seconds, extra); alternating backends, one warm-up each."""
    walls = {n: [] for n in names}
    fields = {n: [] for n in names}
    extra = {}
    for n in names:
        backend.use(n)
        run()
    for _ in range(repeats):
        for n in names:
            backend.use(n)
            wall, field, extra[n] = run()
            walls[n].append(wall)
            fields[n].append(field)
    backend.use(None)
    return {
        n: {
            "seconds": spread(walls[n]),
            "field_seconds": spread(fields[n]),
            "outside_field_seconds": spread([w - f for w, f in zip(walls[n], fields[n])]),
            **extra[n],
        }
        for n in names
    }


def inference(scene, names, repeats, resolution=64):
    o, d = cams.image_rays(cams.eval_cameras(), resolution)
    o, d = o.reshape(-1, 3), d.reshape(-1, 3)
    ids = torch.zeros(len(o), dtype=torch.long)
    images = {}

    def run():
        q = TimedQuery(scene.query)
        start = time.perf_counter()
        out = render_image_batches(q, o, d, ids, scene.grid, torch.ones(3))
        wall = time.perf_counter() - start
        images[backend.chosen()] = out.rgb
        return wall, q.seconds, {"samples": out.n_samples}

    result = side_by_side(names, run, repeats)
    for n in names:
        result[n]["rays_per_s"] = round(len(o) / result[n]["seconds"]["median"])
        result[n]["max_abs_diff_vs_torch"] = float((images[n] - images["torch"]).abs().max())
    return {"rays": len(o), **result}


def training_step(scene, names, repeats, n_rays=4096):
    """render_rays forward + backward into the baked NeRF's MLP weights and tri-planes."""
    o, d = cams.random_rays(n_rays, torch.Generator().manual_seed(0))
    ids = torch.zeros(n_rays, dtype=torch.long)
    weights = [(w.clone().requires_grad_(), b.clone().requires_grad_()) for w, b in scene.weights]
    params = [t for pair in weights for t in pair] + [scene.field.encoding.planes]
    grads = {}

    def run():
        q = TimedQuery(lambda p, s: scene.field.query(p, weights))
        start = time.perf_counter()
        out = render_rays(q, o, d, ids, scene.grid, torch.ones(3), generator=torch.Generator().manual_seed(1))
        loss = (out.rgb - 0.5).square().mean()
        g = torch.autograd.grad(loss, params)
        wall = time.perf_counter() - start
        grads[backend.chosen()] = torch.cat([t.flatten() for t in g])
        return wall, q.seconds, {"samples": out.n_samples}

    result = side_by_side(names, run, repeats)
    for n in names:
        result[n]["rays_per_s"] = round(n_rays / result[n]["seconds"]["median"])
        rel = (grads[n] - grads["torch"]).norm() / grads["torch"].norm()
        result[n]["grad_rel_diff_vs_torch"] = float(rel)
    note = "field_seconds: the field's forward passes; outside_field_seconds includes the backward through the field"
    return {"rays": n_rays, "note": note, **result}


def teach(prompts: str, names: list[str]) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in names:
            cmd = [
                sys.executable,
                "-m",
                "hfcli.cli",
                "teach",
                prompts,
                "--backend",
                n,
                "--json",
                "--out",
                str(Path(tmp) / f"{n}.safetensors"),
            ]
            start = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
            report = json.loads(proc.stdout.strip().splitlines()[-1])
            out[n] = {"wall_s": round(time.perf_counter() - start, 1), "psnr": report["psnr"]}
    return {"command": f"hf teach {prompts} --backend B", **out}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--prompt", default="a pink chair")
    parser.add_argument("--teach", default=None, help="also time a whole `hf teach FILE` per backend")
    args = parser.parse_args()
    names = ["torch", "cpp"]  # the CPU backends; the CUDA kernels are held to the parity tests
    model = PromptModel.from_checkpoint(ckpt_io.load(default_model_path()))
    scene = model.bake([args.prompt])[0]
    report = {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, {torch.get_num_threads()} threads, "
        f"python {platform.python_version()}, torch {torch.__version__}",
        "scene": f"default model, {args.prompt!r}",
        "inference_64px_16_views": inference(scene, names, args.repeats),
        "training_step": training_step(scene, names, args.repeats),
    }
    for key in ("inference_64px_16_views", "training_step"):
        fig = report[key]
        fig["speedup_cpp"] = round(fig["torch"]["seconds"]["median"] / fig["cpp"]["seconds"]["median"], 2)
        fig["speedup_cpp_outside_field"] = round(
            fig["torch"]["outside_field_seconds"]["median"] / fig["cpp"]["outside_field_seconds"]["median"], 2
        )
    if args.teach:
        report["teach"] = teach(args.teach, names)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
