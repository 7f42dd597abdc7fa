"""Which guidance answers a set of prompts: `studio`, `sd`, or `auto` (DESIGN.md, "Guidance")."""

from __future__ import annotations

from ..errors import HfcliError, PromptError
from ..progress import Report, no_report
from .sd import SUGGESTED_MODEL, SDConfig, resolve_model_dir
from .vocab import parse_prompt

GUIDANCES = ("auto", "studio", "sd")


def resolve_guidance(name: str, prompts: list[str], sd: SDConfig | None) -> str:
    """`auto` → `sd` when a diffusion model is given, else `studio` when every prompt parses to its
    vocabulary, else an error that says how to get a model. Checks a named guidance can run."""
    if name not in GUIDANCES:
        raise HfcliError(f"--guidance must be auto, studio or sd (got {name!r})")
    if name == "sd" and sd is None:
        raise HfcliError(f"--guidance sd needs --sd-model (a diffusers directory or a cached model id, e.g. {SUGGESTED_MODEL})")
    if name == "sd" or (name == "auto" and sd is not None):
        resolve_model_dir(sd.model)  # a missing or foreign model fails here, before any slow set-up
        return "sd"
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


def make_guidance(name: str, prompts: list[str], rays_per_step: int, pool_rays: int, seed: int,
                  sd: SDConfig | None = None, report: Report = no_report):
    """The guidance `resolve_guidance` picks, ready to train against (studio pools rendered)."""
    chosen = resolve_guidance(name, prompts, sd)
    if chosen == "sd":
        from .sd import SDGuidance

        report("loading Stable Diffusion", 0, 1, {})
        guidance = SDGuidance(prompts, sd)
        report("loading Stable Diffusion", 1, 1, {})
        return guidance
    from .studio import StudioGuidance

    guidance = StudioGuidance(prompts, rays_per_step, pool_rays, seed=seed)
    guidance.prepare(lambda done, total: report("rendering ground truth", done, total, {}))
    return guidance
