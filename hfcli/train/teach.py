"""teach: train a teacher HyperNet on one prompt file with a guidance."""

from __future__ import annotations

from pathlib import Path

from ..config import TeachConfig, validate
from ..device import resolve
from ..errors import HfcliError
from ..guidance import factory
from ..progress import Report, no_report
from ..studio.truth import studio_truth
from .fit import fit


def teach(prompts: list[str], out: Path, cfg: TeachConfig, resume: bool = False, report: Report = no_report) -> dict:
    """Train (or resume) a teacher, save it to `out`, evaluate it against studio ground truth
    (where every prompt is in the studio's vocabulary, whatever the guidance)."""
    validate(cfg)
    drawn = min(len(prompts), cfg.prompts_per_step)
    if cfg.rays_per_step < drawn:
        raise HfcliError(
            f"--rays-per-step must be at least {drawn}, one ray per prompt of a step (got {cfg.rays_per_step})"
        )
    chosen = factory.resolve_guidance(cfg.guidance, prompts, cfg.sd)  # fails before any slow set-up

    def make(c: TeachConfig):
        return factory.build_guidance(
            chosen,
            prompts,
            c.rays_per_step,
            c.pool_rays,
            c.loop.seed,
            c.sd,
            report,
            depth_weight=c.depth_weight,
            density_weight=c.density_weight,
        )

    def evaluator(guidance):
        return guidance.truth if guidance.name == "studio" else studio_truth(prompts)

    return fit("teacher", prompts, out, cfg, make, evaluator, resume, report, device=resolve(cfg.sd.device))
