"""distill: one student HyperNet learns every prompt of many teachers from their renders."""

from __future__ import annotations

from pathlib import Path

import torch

from .. import checkpoint as ckpt_io
from ..config import DistillConfig, validate
from ..errors import HfcliError
from ..guidance.teachers import TeacherGuidance
from ..model import PromptModel
from ..progress import Report, no_report
from ..studio.truth import studio_truth
from ..text import TextEncoder
from .fit import fit


def load_teachers(paths: list[Path], device: torch.device | str = "cpu") -> list[PromptModel]:
    """Teachers on `device` that share one text encoder (a student reads prompts with exactly one)."""
    if not paths:
        raise HfcliError("no teachers given: pass one or more teacher .safetensors files")
    checkpoints = [ckpt_io.load(p, kinds=("teacher",)) for p in paths]
    encoders = {c.text_encoder for c in checkpoints}
    if len(encoders) > 1:
        raise HfcliError(
            f"teachers use different text encoders ({', '.join(sorted(encoders))}); distil each group apart"
        )
    shared = TextEncoder(checkpoints[0].text_encoder, device)
    return [PromptModel.from_checkpoint(c, shared, device) for c in checkpoints]


def assign_prompts(prompts: list[str], teachers: list[PromptModel], paths: list[Path]) -> dict[str, int]:
    """Which teacher holds each prompt (the first that does)."""
    owner: dict[str, int] = {}
    for i, teacher in enumerate(teachers):
        for p in teacher.prompts:
            owner.setdefault(p, i)
    missing = [p for p in prompts if p not in owner]
    if missing:
        shown = ", ".join(repr(p) for p in missing[:5]) + (" …" if len(missing) > 5 else "")
        raise HfcliError(f"no teacher holds {len(missing)} prompt(s): {shown}; teachers: {', '.join(map(str, paths))}")
    return owner


def distill(
    teacher_paths: list[Path],
    prompts: list[str] | None,
    out: Path,
    cfg: DistillConfig,
    resume: bool = False,
    report: Report = no_report,
    device: torch.device | str = "cpu",
) -> dict:
    """Train (or resume) a student on `prompts` (default: every teacher prompt) on `device`,
    where its teachers render too."""
    validate(cfg)
    teachers = load_teachers(teacher_paths, device)
    if prompts is None:
        prompts = list(dict.fromkeys(p for t in teachers for p in t.prompts))
    owner = assign_prompts(prompts, teachers, teacher_paths)
    cfg.text_encoder = teachers[0].encoder_id

    def make_guidance(c: DistillConfig) -> TeacherGuidance:
        scenes = []
        for n, prompt in enumerate(prompts):
            scenes.append(teachers[owner[prompt]].bake([prompt])[0])
            report("baking teachers", n + 1, len(prompts), {})
        return TeacherGuidance(scenes, c.rays_per_step, c.depth_weight, c.density_weight)

    extra = {"teachers": [str(p) for p in teacher_paths]}
    return fit(
        "student",
        prompts,
        out,
        cfg,
        make_guidance,
        lambda _teachers: studio_truth(prompts),
        resume,
        report,
        extra,
        encoder=teachers[0].encoder,
        device=device,
    )
