"""fit: the flow teach and distill share. Set up or resume a HyperNet over prompts, train it on
the one loop against a guidance with periodic atomic saves, bake every prompt, evaluate, save."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .. import checkpoint as ckpt_io
from ..config import HyperConfig, HyperTrainConfig
from ..errors import CheckpointError, HfcliError, Interrupted
from ..evaluate import evaluate_scenes
from ..guidance.base import Guidance
from ..header_check import implied_floats
from ..hyper import HyperNet
from ..model import PromptModel, field_config
from ..progress import Report, no_report
from ..scene import GRID_RES
from ..studio import wording
from ..text import TextEncoder, TokenStates
from . import distributed
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
    device: torch.device | str = "cpu",
) -> dict:
    """Train (or resume) a `kind` HyperNet on `prompts` on `device`, save it to `out`, evaluate it
    against what `evaluator(training guidance)` returns (a GroundTruth, or None to skip).
    `encoder` is an already loaded text encoder (on `device`) to reuse. Returns the report."""
    start = time.perf_counter()
    resumed = None
    if resume:
        resumed = resumable_checkpoint(out, kind)
        if resumed.prompts != prompts:
            raise CheckpointError(f"{out} was trained on other prompts; use another --out or drop --resume")
        cfg.field = field_config(resumed.config, resumed.written_by)
        cfg.hyper = HyperConfig(**resumed.config["hyper"])
        cfg.text_encoder = resumed.text_encoder
    check_free_space(out, cfg, len(prompts))  # before the slow set-up and training, not at the first save
    guidance = make_guidance(cfg)
    group = distributed.group(device)  # None in one process; under torchrun, rank 0 alone saves and evaluates
    if group is not None:
        guidance = group.wrap(guidance)
    if encoder is None or encoder.encoder_id != cfg.text_encoder:  # a resumed run keeps its own
        encoder = TextEncoder(cfg.text_encoder, device)
    tokens, reworded = _encode(encoder, prompts, cfg.reword)
    torch.manual_seed(cfg.loop.seed)
    hyper = HyperNet(cfg.field, cfg.hyper).to(device)  # initialised on the CPU: the same on every device
    objective = HyperObjective(hyper, tokens, guidance, cfg.prompts_per_step, reworded=reworded, reword=cfg.reword)
    trainer = Trainer(objective, cfg.loop, group)
    if resumed is not None:
        trainer.resume(resumed)
    config = {"field": cfg.field.to_dict(), "hyper": cfg.hyper.to_dict()}

    def save(metrics: dict | None = None) -> None:
        if group is not None and not group.lead:
            return
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

    try:
        last = trainer.run(lambda step, total, figures: report("training", step, total, figures), on_save=save)
    except Interrupted as err:  # saved by the loop: say where
        raise Interrupted(f"{err} (checkpoint {out})", err.signum) from None
    train_seconds = time.perf_counter() - start
    metrics: dict = {"psnr": None, "per_prompt": {}}
    truth = evaluator(guidance) if group is None or group.lead else None
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


def _encode(encoder: TextEncoder, prompts: list[str], reword: float) -> tuple[TokenStates, TokenStates | None]:
    """The prompts' token states, and (where `reword`) their TRAINING wordings, template-major,
    encoded in one batch so every row has the same length."""
    if not reword:
        return encoder.encode(prompts), None
    texts = prompts + [w for template in wording.TRAINING.values() for w in map(template, prompts)]
    states = encoder.encode(texts)
    n = len(prompts)
    return states.select(list(range(n))), states.select(list(range(n, len(texts))))


def check_free_space(out: Path, cfg: HyperTrainConfig, n_prompts: int) -> None:
    """Refuse when `out`'s disk cannot hold the checkpoint: the model, Adam's two moments of it and
    one occupancy grid per prompt, in float32, while the old file (if any) still stands beside the
    new one until the rename."""
    need = 4 * (3 * implied_floats(cfg.field, cfg.hyper) + n_prompts * GRID_RES**3)
    need = int(need * 1.05) + (1 << 20)  # the header, and some slack
    directory = out.parent if str(out.parent) else Path(".")
    while not directory.exists():
        directory = directory.parent
    free = shutil.disk_usage(directory).free
    if free < need:
        raise HfcliError(
            f"not enough free space for {out}: the checkpoint needs about {need / 2**20:.0f} MiB and "
            f"{directory} has {free / 2**20:.0f} MiB free"
        )
