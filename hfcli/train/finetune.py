"""finetune: optimise one baked NeRF for one prompt on the one loop, started from a model's
prediction (or from scratch, for comparison), against any guidance; stop at a target PSNR when
the studio can measure it.

The NeRF is the baked scene's own tensors (shared encoding copied, one MLP) made trainable, so
the result is a plain `nerf` checkpoint that export and render take as they are.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch

from .. import checkpoint as ckpt_io
from ..config import FieldConfig, FinetuneConfig, validate
from ..device import resolve
from ..errors import HfcliError
from ..evaluate import evaluate_scenes
from ..guidance import factory
from ..model import NerfScene, PromptModel, fresh_grid, hyper_from_config, nerf_checkpoint
from ..progress import Report, no_report
from ..render.occupancy import OccupancyGrid
from ..scene import new_grid
from . import distributed
from .loop import Trainer
from .objectives import NerfObjective

# ----------------------------------------------------------------------------- start points


def predicted_scene(model_path, prompt: str, device: torch.device | str = "cpu") -> tuple[NerfScene, dict, str]:
    """The model's baked NeRF for `prompt` on `device` → (scene, model config, text encoder id)."""
    ck = ckpt_io.load(model_path, kinds=("teacher", "student"))
    model = PromptModel.from_checkpoint(ck, device=device)
    return model.bake([prompt])[0], ck.config, ck.text_encoder


def scratch_scene(config: dict, prompt: str, seed: int, device: torch.device | str = "cpu") -> NerfScene:
    """A fresh NeRF of the model's architecture on `device`: random encoding, the MLP a fresh
    HyperNet would bake for any prompt (its heads start at zero offset), an all-occupied grid."""
    torch.manual_seed(seed)
    hyper = hyper_from_config(config).to(device)  # initialised on the CPU: the same on every device
    weights = [(h.base_w.detach().clone(), h.base_b.detach().clone()) for h in hyper.heads]
    return NerfScene(hyper.field, weights, new_grid(device=device), prompt)


def margin_grid(grid: OccupancyGrid, cells: int) -> OccupancyGrid:
    out = copy.deepcopy(grid)
    for _ in range(cells):
        out.dilate()
    return out


# ----------------------------------------------------------------------------- the run


def finetune_scene(
    start: NerfScene, guidance, cfg: FinetuneConfig, grid: OccupancyGrid, truth=None, report: Report = no_report
) -> tuple[NerfScene, dict]:
    """Optimise `start` against `guidance`. With a `truth` (studio ground truth) the PSNR at the
    16 eval cameras is checked every cfg.check_every steps, and training stops at cfg.target_psnr.
    Returns the final scene and figures; seconds count training only, not the checks."""
    group = distributed.group(start.device)  # under torchrun: the rays split over ranks, as in fit
    if group is not None:
        guidance = group.wrap(guidance)
    objective = NerfObjective(start, guidance, grid)
    trainer = Trainer(objective, cfg.loop, group)
    history: list[tuple[int, float]] = []
    reached_at: tuple[int, float] | None = None

    def check() -> float:
        psnr = evaluate_scenes([objective.scene()], truth, cfg.check_resolution)["psnr"]
        history.append((trainer.step, psnr))
        return psnr

    def stop(step: int) -> bool:
        """Checks before a step: every check_every steps towards a target, else only at the start."""
        nonlocal reached_at
        if truth is None or step % cfg.check_every:
            return False
        if cfg.target_psnr is None:
            if step == 0:
                check()
            return False
        if check() >= cfg.target_psnr:
            reached_at = (step, trainer.train_seconds)
            return True
        return False

    trainer.run(lambda step, total, figures: report("finetuning", step, total, figures), stop=stop)
    if truth is not None and (not history or history[-1][0] != trainer.step):
        psnr = check()
        if cfg.target_psnr is not None and psnr >= cfg.target_psnr and reached_at is None:
            reached_at = (trainer.step, trainer.train_seconds)
    return objective.scene(), {
        "steps": trainer.step,
        "train_seconds": round(trainer.train_seconds, 3),
        "psnr_start": history[0][1] if history else None,
        "psnr": history[-1][1] if history else None,
        "reached": reached_at is not None,
        "steps_to_target": None if reached_at is None else reached_at[0],
        "seconds_to_target": None if reached_at is None else round(reached_at[1], 3),
        "rollbacks": trainer.rollbacks,
        "history": history,
    }


def finetune(
    prompt: str,
    model_path,
    out: Path | None,
    cfg: FinetuneConfig,
    from_scratch: bool = False,
    report: Report = no_report,
    guidance=None,
) -> dict:
    """Finetune `model_path`'s NeRF for `prompt` (or a fresh one) and write it to `out` (when
    given). `guidance`, when given, is a guidance already built for [prompt] (benchmarks reuse
    one studio pool across runs); otherwise cfg's is built. A studio guidance is also the truth
    the PSNR checks measure against."""
    validate(cfg)
    start_time = time.perf_counter()
    chosen = guidance.name if guidance is not None else factory.resolve_guidance(cfg.guidance, [prompt], cfg.sd)
    if cfg.target_psnr is not None and chosen != "studio":
        raise HfcliError("--target-psnr needs studio guidance: only the studio has ground truth to measure against")
    device = resolve(cfg.sd.device)  # finetune takes --device from its SD section, as teach does
    predicted, config, encoder_id = predicted_scene(model_path, prompt, device)
    if guidance is None:
        guidance = factory.build_guidance(
            chosen, [prompt], cfg.rays_per_step, cfg.pool_rays, cfg.loop.seed, cfg.sd, report, cfg.depth_weight
        )
    truth = guidance.truth if chosen == "studio" else None
    if from_scratch:
        start = scratch_scene(config, prompt, cfg.loop.seed, device)
        grid = start.grid
    else:
        start = predicted
        grid = margin_grid(predicted.grid, cfg.grid_margin) if cfg.grid_margin >= 0 else new_grid(device=device)
    setup_seconds = time.perf_counter() - start_time
    scene, figures = finetune_scene(start, guidance, cfg, grid, truth, report)
    # Saved with a grid built the way every baked NeRF's is, so export sees the usual field.
    with torch.no_grad():
        scene.grid = fresh_grid(lambda pts, _s: scene.density(pts), device=scene.device)
    group = distributed.group()
    if out is not None and (group is None or group.lead):  # rank 0 alone writes
        extra = {
            "finetuned_from": str(model_path),
            "from_scratch": from_scratch,
            "guidance": guidance.name,
            "finetune": cfg.to_dict(),
        }
        metrics = {"psnr": figures["psnr"]} if figures["psnr"] is not None else {}
        ck = nerf_checkpoint(scene, encoder_id, extra)
        # A finetuned field learns without the studio's density term, so it is as noisy as one
        # trained here, whatever its model records: a finetuned mug meshed with the bundled
        # default's 0.5-voxel blur had 9.5% of its faces off by 30°, with one voxel 3.8%.
        ck.config["field"]["mesh_smooth_voxels"] = FieldConfig.mesh_smooth_voxels
        ck.step, ck.metrics = figures["steps"], metrics
        ckpt_io.save(ck, out)
    return {
        "out": str(out) if out is not None else None,
        "prompt": prompt,
        "model": str(model_path),
        "start": "scratch" if from_scratch else "model",
        "guidance": guidance.name,
        "seed": cfg.loop.seed,
        "target_psnr": cfg.target_psnr,
        **figures,
        "setup_seconds": round(setup_seconds, 2),
        "seconds": round(time.perf_counter() - start_time, 2),
    }
