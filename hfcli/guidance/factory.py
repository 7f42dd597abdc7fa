"""Which guidance answers a set of prompts: `studio`, `sd`, or `auto` (docs/ARCHITECTURE.md, "Guidance")."""

from __future__ import annotations

from dataclasses import replace

from ..config import SDConfig
from ..device import resolve as resolve_device
from ..errors import HfcliError, PromptError
from ..progress import Report, no_report
from ..studio.vocab import parse_prompt
from .sd import SUGGESTED_MODEL, resolve_model_dir


def resolve_guidance(name: str, prompts: list[str], sd: SDConfig) -> str:
    """`auto` → `sd` when a diffusion model is given (sd.model), else `studio` when every prompt
    parses to its vocabulary, else an error that says how to get a model. Checks that the named
    guidance can run, before any slow set-up."""
    if name == "sd" and sd.model is None:
        raise HfcliError(
            f"--guidance sd needs --sd-model (a diffusers directory or a cached model id, e.g. {SUGGESTED_MODEL})"
        )
    if name == "sd" or (name == "auto" and sd.model is not None):
        resolve_model_dir(sd.model)  # a missing or foreign model fails here
        return "sd"
    resolve_device(sd.device)  # cuda where torch sees no GPU: one clear error, before any set-up
    if name == "studio":
        for p in prompts:
            parse_prompt(p)  # raises PromptError naming the words it did not understand
        return "studio"
    try:
        for p in prompts:
            parse_prompt(p)
    except PromptError as err:
        raise HfcliError(
            f"{err}; for prompts outside the studio vocabulary use Stable Diffusion guidance: "
            f"`hf download {SUGGESTED_MODEL}` on a connected machine, then --sd-model {SUGGESTED_MODEL} "
            "(or a local diffusers directory)"
        ) from None
    return "studio"


def build_guidance(
    chosen: str,
    prompts: list[str],
    rays_per_step: int,
    pool_rays: int,
    seed: int,
    sd: SDConfig,
    report: Report = no_report,
    depth_weight: float = 0.0,
    density_weight: float = 0.0,
):
    """The guidance `resolve_guidance` chose, ready to train against (studio pools rendered).
    density_weight is the studio's density term (StudioGuidance); sd has no density to copy."""
    if chosen == "sd":
        from .sd import SDGuidance

        report("loading Stable Diffusion", 0, 1, {})
        guidance = SDGuidance(prompts, replace(sd, seed=seed))
        report("loading Stable Diffusion", 1, 1, {})
        return guidance
    from .studio import StudioGuidance

    guidance = StudioGuidance(
        prompts, rays_per_step, pool_rays, seed=seed, depth_weight=depth_weight, density_weight=density_weight
    )
    guidance.prepare(lambda done, total: report("rendering ground truth", done, total, {}))
    return guidance
