"""generate: prompt → one forward pass of the hypernetwork → baked NeRF → mesh (+ extras)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from . import checkpoint as ckpt_io
from .export import write_glb
from .guidance.vocab import learned_shapes, unlearned_shape_note
from .imageio import save_png
from .model import PromptModel, nerf_checkpoint
from .outputs import scene_mesh, turntable
from .progress import Report, no_report

PREVIEW_RESOLUTION = 256


def generate_many(
    model_path: Path,
    jobs: list[tuple[str, Path]],
    resolution: int,
    nerf: Path | None = None,
    preview: Path | None = None,
    report: Report = no_report,
    warn: Callable[[str], None] = lambda _msg: None,
) -> list[dict]:
    """Load the model once, then mesh each (prompt, out) job. Timings are split per stage.
    `warn` hears a note for each prompt that names no shape the model learned."""
    start = time.perf_counter()
    model = PromptModel.from_checkpoint(ckpt_io.load(model_path, kinds=("teacher", "student")))
    model.encoder  # load now, so per-prompt timings are the per-prompt work
    load_s = time.perf_counter() - start
    learned = learned_shapes(model.prompts)
    results = []
    for n, (prompt, out) in enumerate(jobs):
        note = unlearned_shape_note(prompt, learned)
        if note:
            warn(note)
        t0 = time.perf_counter()
        tokens = model.encoder.encode([prompt])
        t1 = time.perf_counter()
        scene = model.bake_tokens(tokens, [prompt])[0]
        t2 = time.perf_counter()
        mesh = scene_mesh(scene, resolution)
        t3 = time.perf_counter()
        write_glb(mesh, out)
        if nerf is not None:
            ckpt_io.save(nerf_checkpoint(scene, model.encoder_id, {"baked_from": str(model_path)}), nerf)
        if preview is not None:
            save_png(turntable(scene, 1, PREVIEW_RESOLUTION)[0].numpy(), preview)
        t4 = time.perf_counter()
        results.append({
            "prompt": prompt,
            "out": str(out),
            "nerf": str(nerf) if nerf else None,
            "preview": str(preview) if preview else None,
            "faces": int(len(mesh.faces)),
            "note": note,
            "seconds": {
                "load": round(load_s, 3) if n == 0 else 0.0,
                "text": round(t1 - t0, 3),
                "hypernet": round(t2 - t1, 3),
                "mesh": round(t3 - t2, 3),
                "write": round(t4 - t3, 3),
            },
        })
        report("generating", n + 1, len(jobs), {})
    return results
