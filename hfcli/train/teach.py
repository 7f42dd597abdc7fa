"""teach: train a teacher HyperNet on one prompt file with a guidance."""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path

import torch

from .. import checkpoint as ckpt_io
from ..defaults import RAYS_PER_STEP
from ..errors import CheckpointError, HfcliError
from ..guidance.studio import POOL_RAYS, StudioGuidance
from ..evaluate import evaluate_scenes
from ..field import FieldConfig
from ..hyper import HyperConfig, HyperNet
from ..model import PromptModel
from ..text import BUNDLED_ID, TextEncoder
from ..progress import Report, no_report
from .trainer import TrainConfig, Trainer, resume_checkpoint


@dataclass
class TeachConfig:
    train: TrainConfig = dc_field(default_factory=TrainConfig)
    field: FieldConfig = dc_field(default_factory=FieldConfig)
    hyper: HyperConfig = dc_field(default_factory=HyperConfig)
    rays_per_step: int = RAYS_PER_STEP
    pool_rays: int = POOL_RAYS  # studio ground-truth rays per shape
    text_encoder: str = BUNDLED_ID


def make_guidance(name: str, prompts: list[str], cfg: TeachConfig, report: Report):
    """`auto` is `studio` until Stable Diffusion guidance lands (it needs every prompt in the vocabulary)."""
    if name in ("studio", "auto"):
        guidance = StudioGuidance(prompts, cfg.rays_per_step, cfg.pool_rays, seed=cfg.train.seed)
        guidance.prepare(lambda done, total: report("rendering ground truth", done, total, {}))
        return guidance
    raise HfcliError(f"guidance {name!r} is not available yet; use --guidance studio")


def teach(
    prompts: list[str],
    out: Path,
    cfg: TeachConfig,
    guidance_name: str = "auto",
    resume: bool = False,
    report: Report = no_report,
) -> dict:
    """Train (or resume) a teacher, save it to `out`, evaluate it. Returns the report."""
    start = time.perf_counter()
    resumed = None
    if resume:
        resumed = resume_checkpoint(out, "teacher")
        if resumed.prompts != prompts:
            raise CheckpointError(f"{out} was trained on other prompts; use another --out or drop --resume")
        cfg.field = FieldConfig(**resumed.config["field"])
        cfg.hyper = HyperConfig(**resumed.config["hyper"])
        cfg.text_encoder = resumed.text_encoder
    guidance = make_guidance(guidance_name, prompts, cfg, report)
    encoder = TextEncoder(cfg.text_encoder)
    tokens = encoder.encode(prompts)
    torch.manual_seed(cfg.train.seed)
    hyper = HyperNet(cfg.field, cfg.hyper)
    trainer = Trainer(hyper, tokens, guidance, cfg.train)
    if resumed is not None:
        trainer.load_state(resumed)
    config = {"field": cfg.field.to_dict(), "hyper": cfg.hyper.to_dict()}

    def save(metrics: dict | None = None) -> None:
        ckpt_io.save(
            ckpt_io.Checkpoint(
                kind="teacher",
                tensors=trainer.state_tensors(),
                config=config,
                prompts=prompts,
                text_encoder=cfg.text_encoder,
                step=trainer.step,
                metrics=metrics or {},
                extra={**trainer.checkpoint_extra(), "guidance": guidance.name},
            ),
            out,
        )

    last = trainer.run(lambda step, total, figures: report("training", step, total, figures), on_save=save)
    train_seconds = time.perf_counter() - start
    model = PromptModel(hyper, cfg.text_encoder, prompts, encoder)
    scenes = model.bake_tokens(tokens, prompts)
    metrics = evaluate_scenes(scenes, guidance, report=report)
    save({"psnr": metrics["psnr"], "per_prompt": metrics["per_prompt"]})
    return {
        "out": str(out),
        "kind": "teacher",
        "prompts": prompts,
        "guidance": guidance.name,
        "steps": trainer.step,
        "seconds": round(time.perf_counter() - start, 2),
        "train_seconds": round(train_seconds, 2),
        "psnr": metrics["psnr"],
        "per_prompt": metrics["per_prompt"],
        "rollbacks": trainer.rollbacks,
        "last_train_psnr": last.get("psnr"),
    }
