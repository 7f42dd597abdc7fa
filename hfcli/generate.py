"""A model and a prompt → files. generate: one forward pass of the hypernetwork → baked NeRF →
mesh (+ extras); export: any model's NeRF → mesh; render: any model's NeRF → images. Meshes are
textured glb by default (hfcli/outputs.py, mesh_for_file), or OBJ, PLY, vertex-coloured."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from . import checkpoint as ckpt_io
from .config import validate
from .imageio import save_image, save_png
from .mesh_io import mesh_format, write_mesh
from .model import PromptModel, load_scene, nerf_checkpoint
from .output_config import ExportConfig, MeshConfig, RenderConfig, check_mesh_config
from .outputs import mesh_for_file, surface_threshold, turntable
from .progress import Report, no_report
from .studio.vocab import learned_shapes, unlearned_shape_note
from .texture import TexturedMesh

PREVIEW_RESOLUTION = 256


def generate_many(
    model_path: Path,
    jobs: list[tuple[str, Path]],
    cfg: MeshConfig,
    nerf: Path | None = None,
    preview: Path | None = None,
    report: Report = no_report,
    warn: Callable[[str], None] = lambda _msg: None,
    device: str | torch.device = "cpu",
) -> list[dict]:
    """Load the model once, then mesh each (prompt, out) job. Timings are split per stage.
    `warn` hears a note for each prompt that names no shape the model learned, and each note
    about the mesh (a --faces above the mesh's own count, a surface that would not unwrap)."""
    check_mesh_config(cfg)
    formats = [mesh_format(out, cfg.format) for _, out in jobs]
    start = time.perf_counter()
    model = PromptModel.from_checkpoint(ckpt_io.load(model_path, kinds=("teacher", "student")), device=device)
    _ = model.encoder  # load now, so per-prompt timings are the per-prompt work
    load_s = time.perf_counter() - start
    learned = learned_shapes(model.prompts)
    results = []
    for n, ((prompt, out), fmt) in enumerate(zip(jobs, formats)):
        note = unlearned_shape_note(prompt, learned)
        if note:
            warn(note)
        t0 = time.perf_counter()
        tokens = model.encoder.encode([prompt])
        t1 = time.perf_counter()
        scene = model.bake_tokens(tokens, [prompt])[0]
        t2 = time.perf_counter()
        mesh, mesh_notes, stages = mesh_for_file(scene, cfg, fmt)
        for mesh_note in mesh_notes:
            warn(mesh_note)
        t3 = time.perf_counter()
        files = write_mesh(mesh, out)
        t4 = time.perf_counter()
        if nerf is not None:
            ckpt_io.save(nerf_checkpoint(scene, model.encoder_id, {"baked_from": str(model_path)}), nerf)
        if preview is not None:
            save_png(turntable(scene, 1, PREVIEW_RESOLUTION)[0].cpu().numpy(), preview)
        t5 = time.perf_counter()
        results.append(
            {
                "prompt": prompt,
                "out": str(out),
                "files": files,
                "nerf": str(nerf) if nerf else None,
                "preview": str(preview) if preview else None,
                **_mesh_figures(mesh),
                "note": note,
                "mesh_notes": mesh_notes,
                "seconds": {
                    "load": round(load_s, 3) if n == 0 else 0.0,
                    "text": round(t1 - t0, 3),
                    "hypernet": round(t2 - t1, 3),
                    **{k: round(v, 3) for k, v in stages.items()},
                    "write": round(t4 - t3, 3),
                    "extras": round(t5 - t4, 3),
                },
            }
        )
        report("generating", n + 1, len(jobs), {})
    return results


def _mesh_figures(mesh) -> dict:
    """What a result says of the mesh written."""
    textured = isinstance(mesh, TexturedMesh)
    return {
        "faces": int(len(mesh.faces)),
        "vertices": int(len(mesh.vertices)),
        "texture": list(mesh.texture.shape[:2]) if textured else None,
    }


def export_model(
    model_path,
    prompt: str | None,
    out: Path,
    cfg: ExportConfig,
    nerf: Path | None = None,
    warn: Callable[[str], None] = lambda _msg: None,
    device: str | torch.device = "cpu",
) -> dict:
    """Mesh a model's NeRF (a baked one as is, a teacher or student baked at `prompt`) into `out`;
    `nerf` also keeps the baked NeRF that was meshed; `warn` hears the notes about the mesh."""
    check_mesh_config(cfg)
    fmt = mesh_format(out, cfg.format)
    start = time.perf_counter()
    scene, encoder_id = load_scene(str(model_path), prompt, device)
    # Given a --threshold, the mesh is that level as it is; by default the field's own surface
    # (hfcli/outputs.py: scene_mesh), whose level is reported here.
    threshold = surface_threshold(scene) if cfg.threshold is None else cfg.threshold
    mesh, notes, stages = mesh_for_file(scene, cfg, fmt, cfg.threshold)
    for note in notes:
        warn(note)
    files = write_mesh(mesh, out)
    if nerf is not None:
        ckpt_io.save(nerf_checkpoint(scene, encoder_id, {"baked_from": str(model_path)}), nerf)
    return {
        "out": str(out),
        "files": files,
        "nerf": str(nerf) if nerf else None,
        "threshold": round(threshold, 3),
        **_mesh_figures(mesh),
        "notes": notes,
        "seconds": round(time.perf_counter() - start, 3),
    }


def render_model(
    model_path, prompt: str | None, out: Path, cfg: RenderConfig, device: str | torch.device = "cpu"
) -> dict:
    """A still (one view), a strip of views (.png) or a turntable (.gif) of a model's NeRF."""
    validate(cfg)
    start = time.perf_counter()
    scene, _ = load_scene(str(model_path), prompt, device)
    frames = [f.cpu().numpy() for f in turntable(scene, cfg.views, cfg.resolution)]
    save_image(frames if len(frames) > 1 else frames[0], out)
    return {
        "out": str(out),
        "views": cfg.views,
        "resolution": cfg.resolution,
        "seconds": round(time.perf_counter() - start, 3),
    }
