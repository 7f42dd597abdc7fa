"""Write studio ground truth as a NeRF-synthetic dataset (transforms.json + RGBA PNGs)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import torch

from ..config import validate
from ..fsutil import atomic_dir, atomic_path
from ..imageio import save_png
from ..output_config import StudioConfig
from ..progress import Report, no_report
from ..render import cameras as cams
from ..scene import box_corners
from .truth import ShapeGeometry
from .vocab import StudioPrompt, parse_prompt


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "prompt"


def unique_slugs(texts: list[str]) -> list[str]:
    """slug() of each text, with _2, _3, ... on later ones whose slug is taken ("a red chair" and
    "A red chair!" would otherwise write one file, the second over the first)."""
    taken: set[str] = set()
    out = []
    for text in texts:
        base = name = slug(text)
        n = 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        out.append(name)
    return out


def dataset_cameras(n_views: int, seed: int = 0) -> cams.Cameras:
    """Views spread over the training orbit: golden-angle azimuths, stratified elevations."""
    lo, hi = cams.TRAIN_ELEVATION_RANGE_DEG
    gen = torch.Generator().manual_seed(seed)
    az = [(i * 137.508) % 360.0 for i in range(n_views)]
    el = [lo + (hi - lo) * (i + float(torch.rand(1, generator=gen))) / n_views for i in range(n_views)]
    return cams.orbit_cameras(az, el)


def write_dataset(
    prompt: StudioPrompt,
    out_dir: Path,
    n_views: int,
    resolution: int,
    on_progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render `n_views` ground-truth RGBA images of one prompt into `out_dir` (replaced whole).

    Written to a temporary sibling directory first, so an interrupted run leaves nothing behind
    (fsutil.atomic_dir).
    """
    geometry = ShapeGeometry(prompt.shape, prompt.finish)
    albedo = torch.tensor(prompt.albedo)
    cameras = dataset_cameras(n_views)
    frames = []
    # A private temporary directory of a fresh name beside out_dir (a fixed name let two runs on
    # one --out delete each other's files, and followed a link planted there), swapped in whole.
    with atomic_dir(out_dir) as tmp:
        (tmp / "images").mkdir()
        rays_o, rays_d = cams.image_rays(cameras, resolution)
        for i in range(n_views):
            geo = geometry.render(rays_o[i], rays_d[i]).reshape(resolution, resolution, 3)
            alpha = geo[..., :1]
            # NeRF-synthetic PNGs hold straight (not premultiplied) colour: albedo × shade·pattern / alpha.
            straight = albedo * geo[..., 1:2] / alpha.clamp_min(1e-6)
            rgba = torch.cat([torch.where(alpha > 1e-6, straight, torch.ones(3)), alpha], dim=-1)
            name = f"images/r_{i:03d}.png"
            save_png(rgba.clamp(0, 1).numpy(), tmp / name)
            frames.append({"file_path": name, "transform_matrix": cameras.c2w[i].tolist()})
            if on_progress:
                on_progress(i + 1, n_views)
        meta = {
            "camera_angle_x": cameras.fov_x,
            "prompt": prompt.text,
            "shape": prompt.shape,
            "colour": prompt.colour,
            "finish": prompt.finish,
            "albedo": list(prompt.albedo),
            "background": [1.0, 1.0, 1.0],
            "aabb": [list(corner) for corner in box_corners()],
            "frames": frames,
        }
        with atomic_path(tmp / "transforms.json") as path:
            path.write_text(json.dumps(meta, indent=1))
    return out_dir


def write_datasets(prompts: list[str], out: Path, cfg: StudioConfig, report: Report = no_report) -> list[Path]:
    """One dataset per prompt under `out` (every prompt parsed before anything is written)."""
    validate(cfg)
    parsed = [parse_prompt(p) for p in prompts]
    written = []
    for prompt in parsed:
        target = out / slug(prompt.text)
        write_dataset(prompt, target, cfg.views, cfg.resolution, lambda d, t, p=prompt: report(p.text, d, t, {}))
        written.append(target)
    return written


__all__ = ["write_dataset", "write_datasets", "dataset_cameras", "slug"]
