"""Commands that train: teach, distill, finetune."""

from __future__ import annotations

from pathlib import Path

import typer

from ..config import DistillConfig, FinetuneConfig, TeachConfig
from ..errors import HfcliError
from .common import (
    BackendOpt,
    JsonOpt,
    ModelOpt,
    ProgressBars,
    ResumeOpt,
    app,
    check_out,
    emit,
    lead,
    psnr_text,
    read_prompt_file,
)
from .options import config_options


def _check_resume(resume: bool, out: Path) -> None:
    if resume and not out.exists():
        raise HfcliError(f"--resume: no checkpoint at {out} to resume from")


@app.command()
@config_options(TeachConfig)
def teach(
    prompts_file: Path = typer.Argument(
        ..., help="Text file, one prompt per line (# comments allowed).", show_default=False
    ),
    out: Path | None = typer.Option(
        None, help="Checkpoint to write (default: teachers/<prompt file stem>.safetensors)."
    ),
    resume: bool = ResumeOpt,
    cfg: TeachConfig = None,
    json_out: bool = JsonOpt,
    backend: str | None = BackendOpt,
):
    """Train a teacher: a hypernetwork over the prompts of one file.

    Example: hf teach prompts/bowl.txt --out teachers/bowl.safetensors
    """
    from ..train.teach import teach as run_teach

    prompts = read_prompt_file(prompts_file)
    out = check_out(out or Path("teachers") / f"{prompts_file.stem}.safetensors", (".safetensors",))
    _check_resume(resume, out)
    with ProgressBars(enabled=lead()) as bars:
        result = run_teach(prompts, out, cfg, resume=resume, report=bars)
    if lead():
        emit(
            result,
            json_out,
            f"wrote {result['out']}: {result['steps']} steps, {result['seconds']:.0f} s, PSNR {psnr_text(result['psnr'])}",
        )


@app.command()
@config_options(DistillConfig)
def distill(
    teachers: list[Path] = typer.Argument(None, help="Teacher checkpoints (.safetensors).", show_default=False),
    prompts_file: Path | None = typer.Option(
        None, "--prompts", help="Prompts the student learns (default: every teacher prompt)."
    ),
    out: Path = typer.Option(Path("student.safetensors"), help="Student checkpoint to write."),
    resume: bool = ResumeOpt,
    cfg: DistillConfig = None,
    json_out: bool = JsonOpt,
    backend: str | None = BackendOpt,
):
    """Distil teachers into one student that holds all their prompts and answers new ones.

    Example: hf distill teachers/*.safetensors --prompts prompts/train.txt --out student.safetensors
    """
    from ..train.distill import distill as run_distill

    prompts = read_prompt_file(prompts_file) if prompts_file is not None else None
    check_out(out, (".safetensors",))
    _check_resume(resume, out)
    with ProgressBars(enabled=lead()) as bars:
        result = run_distill(list(teachers or []), prompts, out, cfg, resume=resume, report=bars)
    if lead():
        emit(
            result,
            json_out,
            f"wrote {result['out']}: {len(result['prompts'])} prompts, {result['steps']} steps, "
            f"PSNR {psnr_text(result['psnr'])}",
        )


@app.command()
@config_options(FinetuneConfig)
def finetune(
    prompt: str = typer.Argument(..., help="The prompt.", show_default=False),
    model: Path = ModelOpt,
    out: Path = typer.Option(
        ..., help="Baked NeRF to write (.safetensors); `hf export` meshes it.", show_default=False
    ),
    from_scratch: bool = typer.Option(
        False, "--from-scratch", help="Start from a fresh NeRF, same settings (to compare)."
    ),
    cfg: FinetuneConfig = None,
    json_out: bool = JsonOpt,
    backend: str | None = BackendOpt,
):
    """Refine one prompt's NeRF, starting from the model's prediction, with studio or SD guidance.

    Example: hf finetune "a red mug" --guidance studio --target-psnr 30 --out mug.safetensors
    """
    from ..text import check_prompt
    from ..train.finetune import finetune as run_finetune

    check_prompt(prompt)
    check_out(out, (".safetensors",))
    with ProgressBars(enabled=lead()) as bars:
        result = run_finetune(prompt, model, out, cfg, from_scratch=from_scratch, report=bars)
    result.pop("history")
    target = cfg.target_psnr
    reached = (
        ""
        if target is None
        else (
            f", {target} dB at step {result['steps_to_target']}" if result["reached"] else f", {target} dB not reached"
        )
    )
    psnr = "" if result["psnr"] is None else f", PSNR {result['psnr']:.2f} dB"
    emit(result, json_out, f"wrote {out}: {result['steps']} steps, {result['train_seconds']:.0f} s{psnr}{reached}")
