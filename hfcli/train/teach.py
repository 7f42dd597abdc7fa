"""teach: train a teacher HyperNet on one prompt file with a guidance."""

from __future__ import annotations

from pathlib import Path

from ..guidance import factory
from ..guidance.sd import SDConfig
from ..progress import Report, no_report
from .distill import studio_reference
from .fit import FitConfig, fit

TeachConfig = FitConfig


def make_guidance(name: str, prompts: list[str], cfg: FitConfig, report: Report, sd: SDConfig | None = None):
    """`studio`, `sd`, or `auto` (sd when a diffusion model is given, else studio; see factory)."""
    return factory.make_guidance(name, prompts, cfg.rays_per_step, cfg.pool_rays, cfg.train.seed, sd, report)


def teach(
    prompts: list[str],
    out: Path,
    cfg: FitConfig,
    guidance_name: str = "auto",
    resume: bool = False,
    report: Report = no_report,
    sd: SDConfig | None = None,
) -> dict:
    """Train (or resume) a teacher, save it to `out`, evaluate it against studio ground truth
    (its own guidance, or for sd the studio when every prompt is in its vocabulary)."""
    factory.resolve_guidance(guidance_name, prompts, sd)  # fail before any slow set-up

    def make(c: FitConfig):
        return make_guidance(guidance_name, prompts, c, report, sd)

    def evaluator(guidance):
        return guidance if guidance.name == "studio" else studio_reference(prompts)

    return fit("teacher", prompts, out, cfg, make, evaluator, resume, report)
