"""fit: the flow teach and distill share. Set up or resume a HyperNet over prompts, train it on
the one loop against a guidance with periodic atomic saves, bake every prompt, evaluate, save."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch

from .. import checkpoint as ckpt_io
from ..config import HyperConfig, HyperTrainConfig
from ..errors import CheckpointError
from ..evaluate import evaluate_scenes
from ..guidance.base import Guidance
from ..hyper import HyperNet
from ..model import PromptModel, field_config
from ..progress import Report, no_report
from ..text import TextEncoder
from .loop import Trainer, resumable_checkpoint
from .objectives import HyperObjective


def fit(
    kind: str,
    prompts: list[str],
    out: Path,
    cfg: HyperTrainConfig,
    make_guidance: Callable[[HyperTrainConfig], Guidance],
    evaluator: Callable[[Guidance], object | None],
    resume: bool = False,
    report: Report = no_report,
    extra: dict | None = None,
    encoder: TextEncoder | None = None,
) -> dict:
    """Train (or resume) a `kind` HyperNet on `prompts`, save it to `out`, evaluate it against
    what `evaluator(training guidance)` returns (a GroundTruth, or None to skip). `encoder` is an
    already loaded text encoder to reuse. Returns the report."""
    start = time.perf_counter()
    resumed = None
    if resume:
        resumed = resumable_checkpoint(out, kind)
        if resumed.prompts != prompts:
            raise CheckpointError(f"{out} was trained on other prompts; use another --out or drop --resume")
        cfg.field = field_config(resumed.config, resumed.written_by)
        cfg.hyper = HyperConfig(**resumed.config["hyper"])
        cfg.text_encoder = resumed.text_encoder
    guidance = make_guidance(cfg)
    if encoder is None or encoder.encoder_id != cfg.text_encoder:  # a resumed run keeps its own
        encoder = TextEncoder(cfg.text_encoder)
    tokens = encoder.encode(prompts)
    torch.manual_seed(cfg.loop.seed)
    hyper = HyperNet(cfg.field, cfg.hyper)
    trainer = Trainer(HyperObjective(hyper, tokens, guidance, cfg.prompts_per_step), cfg.loop)
    if resumed is not None:
        trainer.resume(resumed)
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
    truth = evaluator(guidance)
    if truth is not None:
        scenes = PromptModel(hyper, cfg.text_encoder, prompts, encoder).bake_tokens(tokens, prompts)
        metrics = evaluate_scenes(scenes, truth, report=report)
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
