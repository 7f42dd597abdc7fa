"""fit: the flow shared by teach and distill — set up or resume a HyperNet, train it against a
guidance with periodic atomic saves, bake every prompt, evaluate, save the final checkpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from typing import Callable

import torch

from .. import checkpoint as ckpt_io
from ..defaults import RAYS_PER_STEP
from ..errors import CheckpointError
from ..evaluate import evaluate_scenes
from ..field import FieldConfig
from ..guidance.base import Guidance
from ..guidance.studio import POOL_RAYS
from ..hyper import HyperConfig, HyperNet
from ..model import PromptModel
from ..progress import Report, no_report
from ..text import BUNDLED_ID, TextEncoder
from .trainer import TrainConfig, Trainer, resume_checkpoint


@dataclass
class FitConfig:
    train: TrainConfig = dc_field(default_factory=TrainConfig)
    field: FieldConfig = dc_field(default_factory=FieldConfig)
    hyper: HyperConfig = dc_field(default_factory=HyperConfig)
    rays_per_step: int = RAYS_PER_STEP
    pool_rays: int = POOL_RAYS  # studio ground-truth rays per shape
    text_encoder: str = BUNDLED_ID


def fit(
    kind: str,
    prompts: list[str],
    out: Path,
    cfg: FitConfig,
    make_guidance: Callable[[FitConfig], Guidance],
    evaluator: Callable[[Guidance], object | None],
    resume: bool = False,
    report: Report = no_report,
    extra: dict | None = None,
    encoder: TextEncoder | None = None,
) -> dict:
    """Train (or resume) a `kind` HyperNet on `prompts`, save it to `out`, evaluate it with what
    `evaluator(training guidance)` returns (one with `render_views`, or None to skip).
    `encoder` is an already loaded text encoder to reuse. Returns the report."""
    start = time.perf_counter()
    resumed = None
    if resume:
        resumed = resume_checkpoint(out, kind)
        if resumed.prompts != prompts:
            raise CheckpointError(f"{out} was trained on other prompts; use another --out or drop --resume")
        cfg.field = FieldConfig(**resumed.config["field"])
        cfg.hyper = HyperConfig(**resumed.config["hyper"])
        cfg.text_encoder = resumed.text_encoder
    guidance = make_guidance(cfg)
    if encoder is None or encoder.encoder_id != cfg.text_encoder:  # a resumed run keeps its own
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
                kind=kind,
                tensors=trainer.state_tensors(),
                config=config,
                prompts=prompts,
                text_encoder=cfg.text_encoder,
                step=trainer.step,
                metrics=metrics or {},
                extra={**trainer.checkpoint_extra(), "guidance": guidance.name, **(extra or {})},
            ),
            out,
        )

    last = trainer.run(lambda step, total, figures: report("training", step, total, figures), on_save=save)
    train_seconds = time.perf_counter() - start
    metrics: dict = {"psnr": None, "per_prompt": {}}
    reference = evaluator(guidance)
    if reference is not None:
        scenes = PromptModel(hyper, cfg.text_encoder, prompts, encoder).bake_tokens(tokens, prompts)
        metrics = evaluate_scenes(scenes, reference, report=report)
    save(metrics)
    return {
        "out": str(out),
        "kind": kind,
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
