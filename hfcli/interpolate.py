"""interpolate: morph between two prompts in conditioning space; one mesh per frame + a GIF."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from . import checkpoint as ckpt_io
from .imageio import save_gif
from .mesh_io import write_mesh
from .model import NerfScene, PromptModel
from .output_config import InterpolateConfig, check_mesh_config
from .outputs import mesh_for_file, render_views
from .progress import Report, no_report
from .render import cameras as cams
from .text import check_prompt

GIF_RESOLUTION = 192


BAKE_CHUNK = 8  # frames baked at a time: each frame is written before the next chunk is baked


def _baked(model: PromptModel, prompt_a: str, prompt_b: str, ts: list[float]) -> Iterator[NerfScene]:
    """The scene at each t, baked a chunk at a time (not all frames up front: a long morph then
    holds one chunk of baked scenes, not all of them)."""
    for start in range(0, len(ts), BAKE_CHUNK):
        yield from model.interpolate(prompt_a, prompt_b, ts[start : start + BAKE_CHUNK])


def interpolate(
    model_path: Path,
    prompt_a: str,
    prompt_b: str,
    out_dir: Path,
    cfg: InterpolateConfig,
    report: Report = no_report,
    warn: Callable[[str], None] = lambda _msg: None,
    device: str | torch.device = "cpu",
) -> dict:
    """Write frame_000.glb … (or .obj, .ply by --format) and morph.gif into `out_dir`. t runs from
    0 (prompt A) to 1 (prompt B). `warn` hears the notes about each frame's mesh."""
    check_mesh_config(cfg)
    fmt = cfg.format or "glb"
    check_prompt(prompt_a)
    check_prompt(prompt_b)
    frames = cfg.frames
    start = time.perf_counter()
    model = PromptModel.from_checkpoint(ckpt_io.load(model_path, kinds=("teacher", "student")), device=device)
    ts = [i / (frames - 1) for i in range(frames)] if frames > 1 else [0.0]
    out_dir.mkdir(parents=True, exist_ok=True)
    meshes, images = [], []
    for i, scene in enumerate(_baked(model, prompt_a, prompt_b, ts)):
        path = out_dir / f"frame_{i:03d}.{fmt}"
        mesh, notes, _ = mesh_for_file(scene, cfg, fmt)
        for note in notes:
            warn(f"frame {i}: {note}")
        write_mesh(mesh, path)
        meshes.append(str(path))
        azimuth = 30.0 + (360.0 * i / frames if cfg.turntable else 0.0)
        image, _ = render_views(scene, cams.orbit_cameras([azimuth], [25.0]), GIF_RESOLUTION)
        images.append(image[0].cpu().numpy())
        report("interpolating", i + 1, frames, {})
    gif = out_dir / "morph.gif"
    save_gif(images + images[::-1][1:-1], gif)  # there and back, so the loop has no jump
    return {
        "out_dir": str(out_dir),
        "frames": meshes,
        "gif": str(gif),
        "t": ts,
        "seconds": round(time.perf_counter() - start, 2),
    }
