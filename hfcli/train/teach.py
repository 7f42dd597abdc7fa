"""teach: train a teacher HyperNet on one prompt file with a guidance."""

from __future__ import annotations

from pathlib import Path

from ..errors import HfcliError
from ..guidance.studio import StudioGuidance
from ..progress import Report, no_report
from .fit import FitConfig, fit

TeachConfig = FitConfig


def make_guidance(name: str, prompts: list[str], cfg: FitConfig, report: Report):
    """`auto` is `studio` until Stable Diffusion guidance lands (it needs every prompt in the vocabulary)."""
    if name in ("studio", "auto"):
        guidance = StudioGuidance(prompts, cfg.rays_per_step, cfg.pool_rays, seed=cfg.train.seed)
        guidance.prepare(lambda done, total: report("rendering ground truth", done, total, {}))
        return guidance
    raise HfcliError(f"guidance {name!r} is not available yet; use --guidance studio")


def teach(
    prompts: list[str],
    out: Path,
    cfg: FitConfig,
    guidance_name: str = "auto",
    resume: bool = False,
    report: Report = no_report,
) -> dict:
    """Train (or resume) a teacher, save it to `out`, evaluate it against its own guidance."""

    def make(c: FitConfig):
        return make_guidance(guidance_name, prompts, c, report)

    return fit("teacher", prompts, out, cfg, make, lambda guidance: guidance, resume, report)
