"""finetune: optimise one baked NeRF for one prompt, started from a model's prediction (or from
scratch, for comparison), against any guidance; stop at a target PSNR when the studio can say.

The NeRF is the baked scene's own tensors (shared encoding copied, one MLP) made trainable, so
the result is a plain `nerf` checkpoint that export and render take as they are.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from .. import checkpoint as ckpt_io
from ..defaults import FINETUNE_STEPS
from ..errors import HfcliError
from ..evaluate import EVAL_RESOLUTION, evaluate_scenes
from ..model import NerfScene, PromptModel, fresh_grid, hyper_from_config, nerf_checkpoint
from ..progress import Report, no_report
from ..render.occupancy import OccupancyGrid
from ..render.renderer import AABB, GRID_RES, RENDER_STEP, render_rays


@dataclass
class FinetuneConfig:
    steps: int = FINETUNE_STEPS  # at most this many; fewer when target_psnr is reached
    # Twice to four times teach's rates: one NeRF with direct supervision takes them (a red mug
    # from scratch: 23 dB after 10 studio steps against 18 dB at 5e-3 / 2e-2).
    lr: float = 2e-2  # the MLP weights
    lr_encoding: float = 6e-2  # tri-plane and grid features
    lr_final_fraction: float = 0.3
    rays_per_step: int = 4096  # studio rays a step (SDS renders whole images instead)
    grid_every: int = 16
    grid_warmup: int = 16  # a scratch field is empty: let densities form before culling
    # >= 0: start from the prediction's occupancy grown by this many cells (cheaper early steps).
    # Negative (the default): every cell occupied, as for a scratch field. For a shape the model
    # never learned the prediction's occupancy misses parts: lamps and donuts stalled below
    # 25 dB at margin 2 and reached it in 20-30 steps from a full grid (BENCHMARKS.md).
    grid_margin: int = -1
    check_every: int = 5  # steps between PSNR checks (studio only)
    check_resolution: int = EVAL_RESOLUTION  # of the 16 eval views a check renders
    target_psnr: float | None = None
    clip_grad: float = 1.0
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- start points


def predicted_scene(model_path, prompt: str) -> tuple[NerfScene, dict, str]:
    """The model's baked NeRF for `prompt` → (scene, model config, text encoder id)."""
    ck = ckpt_io.load(model_path, kinds=("teacher", "student"))
    model = PromptModel.from_checkpoint(ck)
    return model.bake([prompt])[0], ck.config, ck.text_encoder


def scratch_scene(config: dict, prompt: str, seed: int) -> NerfScene:
    """A fresh NeRF of the model's architecture: random encoding, the MLP a fresh HyperNet would
    bake for any prompt (its heads start at zero offset), an all-occupied grid."""
    torch.manual_seed(seed)
    hyper = hyper_from_config(config)
    weights = [(h.base_w.detach().clone(), h.base_b.detach().clone()) for h in hyper.heads]
    return NerfScene(hyper.field, weights, OccupancyGrid(1, GRID_RES, AABB.clone(), RENDER_STEP), prompt)


def margin_grid(grid: OccupancyGrid, cells: int) -> OccupancyGrid:
    out = copy.deepcopy(grid)
    for _ in range(cells):
        out.dilate()
    return out


# ----------------------------------------------------------------------------- the loop


class NerfTrainer:
    """Adam on one NeRF's encoding and MLP, rendering through the shared renderer."""

    def __init__(self, scene: NerfScene, guidance, cfg: FinetuneConfig, grid: OccupancyGrid):
        self.cfg, self.guidance = cfg, guidance
        self.field = copy.deepcopy(scene.field)  # a baked scene shares its model's encoding
        self.weights = [(w.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True))
                        for w, b in scene.weights]
        self.grid = grid
        self.prompt = scene.prompt
        mlp = [t for pair in self.weights for t in pair]
        enc = list(self.field.encoding.parameters())
        self.params = mlp + enc
        self.opt = torch.optim.Adam([{"params": mlp, "lr": cfg.lr}, {"params": enc, "lr": cfg.lr_encoding, "eps": 1e-15}])
        self.base_lrs = [cfg.lr, cfg.lr_encoding]
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.step = 0

    def query(self, points: torch.Tensor, _scene: int = 0):
        return self.field.query(points, self.weights)

    def scene(self) -> NerfScene:
        return NerfScene(self.field, [(w.detach(), b.detach()) for w, b in self.weights], self.grid, self.prompt)

    def train_step(self) -> dict:
        frac = self.step / max(1, self.cfg.steps)
        for group, base in zip(self.opt.param_groups, self.base_lrs):
            group["lr"] = base * self.cfg.lr_final_fraction**frac
        if self.step >= self.cfg.grid_warmup and self.step % self.cfg.grid_every == 0:
            with torch.no_grad():
                self.grid.update(lambda pts, _s: self.query(pts)[0], self.gen)
        batch = self.guidance.sample(self.gen, [0])
        out = render_rays(self.query, batch.rays_o, batch.rays_d, batch.scene_ids, self.grid, batch.background,
                          generator=self.gen)
        loss, figures = self.guidance.loss(out, batch)
        if not torch.isfinite(loss):
            raise HfcliError(f"finetuning diverged at step {self.step} (loss is not finite); try a lower --lr")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, self.cfg.clip_grad)
        self.opt.step()
        self.step += 1
        figures.update(loss=float(loss.detach()), samples=out.n_samples)
        return figures


def finetune_scene(start: NerfScene, guidance, cfg: FinetuneConfig, grid: OccupancyGrid, reference=None,
                   report: Report = no_report) -> tuple[NerfScene, dict]:
    """Optimise `start` against `guidance`. With a `reference` (a studio guidance) the PSNR at the
    16 eval cameras is checked every cfg.check_every steps, and training stops at cfg.target_psnr.
    Returns the final scene and figures; seconds count training only, not the checks."""
    trainer = NerfTrainer(start, guidance, cfg, grid)
    history: list[tuple[int, float]] = []
    train_seconds = 0.0
    reached_at: tuple[int, float] | None = None

    def check() -> float:
        psnr = evaluate_scenes([trainer.scene()], reference, cfg.check_resolution)["psnr"]
        history.append((trainer.step, psnr))
        return psnr

    while True:
        if reference is not None and (trainer.step % cfg.check_every == 0 or trainer.step == cfg.steps):
            if cfg.target_psnr is not None and check() >= cfg.target_psnr:
                reached_at = (trainer.step, train_seconds)
                break
            if cfg.target_psnr is None and trainer.step == 0:
                check()
        if trainer.step >= cfg.steps:
            break
        t0 = time.perf_counter()
        figures = trainer.train_step()
        train_seconds += time.perf_counter() - t0
        report("finetuning", trainer.step, cfg.steps, figures)
    if reference is not None and (not history or history[-1][0] != trainer.step):
        check()
    return trainer.scene(), {
        "steps": trainer.step,
        "train_seconds": round(train_seconds, 3),
        "psnr_start": history[0][1] if history else None,
        "psnr": history[-1][1] if history else None,
        "reached": reached_at is not None,
        "steps_to_target": None if reached_at is None else reached_at[0],
        "seconds_to_target": None if reached_at is None else round(reached_at[1], 3),
        "history": history,
    }


# ----------------------------------------------------------------------------- the command


def finetune(
    prompt: str,
    model_path,
    out: Path | None,
    cfg: FinetuneConfig,
    make_guidance,
    from_scratch: bool = False,
    report: Report = no_report,
) -> dict:
    """Finetune `model_path`'s NeRF for `prompt` (or a fresh one) and write it to `out` (when
    given). `make_guidance(prompts)` builds the guidance; a studio guidance is also the reference
    for PSNR checks."""
    start_time = time.perf_counter()
    predicted, config, encoder_id = predicted_scene(model_path, prompt)
    guidance = make_guidance([prompt])
    if cfg.target_psnr is not None and guidance.name != "studio":
        raise HfcliError("--target-psnr needs studio guidance (it measures against studio ground truth)")
    reference = guidance if guidance.name == "studio" else None
    if from_scratch:
        start = scratch_scene(config, prompt, cfg.seed)
        grid = start.grid
    else:
        start = predicted
        grid = (margin_grid(predicted.grid, cfg.grid_margin) if cfg.grid_margin >= 0
                else OccupancyGrid(1, GRID_RES, AABB.clone(), RENDER_STEP))
    setup_seconds = time.perf_counter() - start_time
    scene, figures = finetune_scene(start, guidance, cfg, grid, reference, report)
    # Saved with a grid built the way every baked NeRF's is, so export sees the usual field.
    with torch.no_grad():
        scene.grid = fresh_grid(lambda pts, _s: scene.density(pts))
    if out is not None:
        extra = {"finetuned_from": str(model_path), "from_scratch": from_scratch, "guidance": guidance.name,
                 "finetune": cfg.to_dict()}
        metrics = {"psnr": figures["psnr"]} if figures["psnr"] is not None else {}
        ck = nerf_checkpoint(scene, encoder_id, extra)
        ck.step, ck.metrics = figures["steps"], metrics
        ckpt_io.save(ck, out)
    return {
        "out": str(out) if out is not None else None,
        "prompt": prompt,
        "model": str(model_path),
        "start": "scratch" if from_scratch else "model",
        "guidance": guidance.name,
        "seed": cfg.seed,
        "target_psnr": cfg.target_psnr,
        **figures,
        "setup_seconds": round(setup_seconds, 2),
        "seconds": round(time.perf_counter() - start_time, 2),
    }
