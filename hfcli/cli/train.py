"""Commands that train: teach, distill, finetune."""

from __future__ import annotations

from pathlib import Path

import typer

from ..config import DistillConfig, FinetuneConfig, TeachConfig
from ..errors import HfcliError
from .common import (
    BackendOpt,
    DeviceOpt,
    JsonOpt,
    ModelOpt,
    ProgressBars,
    ResumeOpt,
    app,
    check_out,
    check_out_dir,
    emit,
    lead,
    psnr_text,
    read_prompt_file,
    use_device,
)
from .options import config_options


def _check_resume(resume: bool, out: Path) -> None:
    if resume and not out.exists():
        raise HfcliError(f"--resume: no checkpoint at {out} to resume from")


def _parse_shard(value: str | None) -> tuple[int, int] | None:
    from ..shards import parse_shard

    if value is None:
        return None
    try:
        return parse_shard(value)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None


@app.command()
@config_options(TeachConfig)
def teach(
    prompts_files: list[Path] = typer.Argument(
        ...,
        help="Text files, one prompt per line (# comments allowed): one teacher per file.",
        show_default=False,
    ),
    out: Path | None = typer.Option(
        None, help="Checkpoint to write, for one prompt file (default: teachers/<prompt file stem>.safetensors)."
    ),
    out_dir: Path | None = typer.Option(
        None,
        "--out-dir",
        help="Directory for the teachers of several files (or a --shard), each <prompt file stem>.safetensors "
        "(default: teachers). With --resume, those that have a checkpoint continue and the others start.",
    ),
    shard: str | None = typer.Option(
        None,
        help="i/n: teach only the i-th of n slices of the prompt files, numbered from 0 like Slurm's "
        "SLURM_ARRAY_TASK_ID (--shard $SLURM_ARRAY_TASK_ID/n). Every machine splits the list the same way "
        "(sorted by path, file k in slice k mod n).",
        show_default=False,
    ),
    resume: bool = ResumeOpt,
    cfg: TeachConfig = None,
    json_out: bool = JsonOpt,
    backend: str | None = BackendOpt,
):
    """Train a teacher: a hypernetwork over the prompts of one file (or one per file of several).

    Example: hf teach prompts/bowl.txt --out teachers/bowl.safetensors
    Spread over machines: hf teach prompts/{bowl,plate,vase}.txt --shard 0/2 --out-dir teachers (and 1/2)
    """
    use_device(cfg.sd.device)  # teach and finetune take --device from their SD section
    picked = _parse_shard(shard)
    if len(prompts_files) == 1 and picked is None and out_dir is None:
        _teach_one(prompts_files[0], out, resume, cfg, json_out)
    else:
        _teach_many(prompts_files, out, out_dir, picked, resume, cfg, json_out)


def _teach_one(prompts_file: Path, out: Path | None, resume: bool, cfg: TeachConfig, json_out: bool) -> None:
    from ..train.teach import teach as run_teach

    prompts = read_prompt_file(prompts_file)
    out = check_out(out or Path("teachers") / f"{prompts_file.stem}.safetensors", (".safetensors",))
    _check_resume(resume, out)
    with ProgressBars(enabled=lead()) as bars:
        result = run_teach(prompts, out, cfg, resume=resume, report=bars)
    if lead():
        emit(result, json_out, _taught(result))


def _teach_many(files, out, out_dir, picked, resume: bool, cfg: TeachConfig, json_out: bool) -> None:
    """Several files (or a shard of them) into --out-dir. Every file of the shard is read and
    checked before the first teacher trains; --resume continues those that have a checkpoint and
    starts the others (so a requeued array task picks up where it stopped)."""
    import copy

    from ..shards import shard_files
    from ..train.teach import teach as run_teach

    if out is not None:
        raise HfcliError("--out names one teacher; with several prompt files or --shard give --out-dir")
    index, count = picked or (0, 1)
    mine = shard_files(files, index, count)
    directory = check_out_dir(out_dir or Path("teachers"))
    jobs, seen = [], {}
    for path in mine:
        target = check_out(directory / f"{path.stem}.safetensors", (".safetensors",))
        if target.name in seen:
            raise HfcliError(f"{seen[target.name]} and {path} would both write {target}; rename one")
        seen[target.name] = path
        jobs.append((path, read_prompt_file(path), target))
    results = []
    with ProgressBars(enabled=lead()) as bars:
        for path, prompts, target in jobs:
            result = run_teach(prompts, target, copy.deepcopy(cfg), resume=resume and target.exists(), report=bars)
            results.append({"prompts_file": str(path), **result})
    if lead():
        summary = (
            "; ".join(_taught(r) for r in results)
            if results
            else f"shard {index}/{count} holds none of the {len(set(map(str, files)))} prompt files"
        )
        emit({"shard": f"{index}/{count}", "teachers": results}, json_out, summary)


def _taught(result: dict) -> str:
    return (
        f"wrote {result['out']}: {result['steps']} steps, {result['seconds']:.0f} s, PSNR {psnr_text(result['psnr'])}"
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
    device: str = DeviceOpt,
):
    """Distil teachers into one student that holds all their prompts and answers new ones.

    Example: hf distill teachers/*.safetensors --prompts prompts/train.txt --out student.safetensors
    """
    from ..device import resolve
    from ..train.distill import distill as run_distill

    prompts = read_prompt_file(prompts_file) if prompts_file is not None else None
    check_out(out, (".safetensors",))
    _check_resume(resume, out)
    with ProgressBars(enabled=lead()) as bars:
        result = run_distill(
            list(teachers or []), prompts, out, cfg, resume=resume, report=bars, device=resolve(device)
        )
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

    use_device(cfg.sd.device)
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
    if lead():
        emit(result, json_out, f"wrote {out}: {result['steps']} steps, {result['train_seconds']:.0f} s{psnr}{reached}")
