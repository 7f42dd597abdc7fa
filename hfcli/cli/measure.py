"""Commands about ground truth: eval (a model against it) and studio (write it as datasets)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from ..errors import PromptError
from ..output_config import StudioConfig
from .common import BackendOpt, DeviceOpt, JsonOpt, ProgressBars, app, check_out_dir, emit, read_prompt_file, stderr
from .options import config_options


@app.command("eval")
def eval_(
    model: Path = typer.Argument(
        ..., help="A teacher or student checkpoint, or 'default' (the bundled model).", show_default=False
    ),
    prompts_file: Path = typer.Option(
        ..., "--prompts", help="Studio prompts to measure, e.g. prompts/heldout.txt.", show_default=False
    ),
    mesh: bool = typer.Option(
        True, "--mesh/--no-mesh", help="Also mesh each prompt: Chamfer distance and surface normals/distance."
    ),
    json_out: bool = JsonOpt,
    backend: str | None = BackendOpt,
    device: str = DeviceOpt,
):
    """Measure a model against studio ground truth: PSNR, SSIM, silhouette IoU, Chamfer distance,
    the mesh surface against the exact SDF (normal consistency, share of faces off by more than
    30°, mean distance; the truth's own mesh as the ceiling), and the retrieval baseline (the
    model's nearest training prompt of the same shape).

    Example: hf eval student.safetensors --prompts prompts/heldout.txt --json
    """
    from .. import checkpoint as ckpt_io
    from ..device import resolve
    from ..evaluate import evaluate_model
    from ..model import PromptModel

    prompts = read_prompt_file(prompts_file)
    start = time.perf_counter()
    pm = PromptModel.from_checkpoint(ckpt_io.load(model, kinds=("teacher", "student")), device=resolve(device))
    try:
        with ProgressBars() as bars:
            result = evaluate_model(pm, prompts, with_mesh=mesh, report=bars)
    except PromptError as err:
        raise PromptError(f"{prompts_file}, {err}") from None
    result.update(model=str(model), seconds=round(time.perf_counter() - start, 2))
    if not json_out:
        _print_eval_table(result)
    emit(
        result,
        json_out,
        f"mean PSNR {result['mean']['psnr']:.2f} dB over {len(prompts)} prompts "
        f"(retrieval baseline {_fmt(result['baseline_mean']['psnr'])} dB)",
    )


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _print_eval_table(result: dict) -> None:
    from rich.table import Table

    table = Table(title=f"hf eval {result['model']}")
    columns = ["prompt", "unseen", "PSNR", "mesh PSNR", "SSIM", "IoU", "Chamfer"]  # mesh PSNR: the written glb's
    columns += ["normals", ">30°", "dist", "retrieved", "base PSNR"]  # normals …: the mesh surface vs the exact SDF
    text = {"prompt": 12, "unseen": 6, "retrieved": 8}  # their narrowest: a narrow terminal wraps them
    for name in columns:  # the figures never wrap
        table.add_column(
            name, justify="left" if name in text else "right", no_wrap=name not in text, min_width=text.get(name)
        )

    def add(label: str, unseen: str, r: dict, retrieved: str, base: dict | None) -> None:
        table.add_row(label, unseen, _fmt(r.get("psnr")), _fmt(r.get("mesh_psnr")), _fmt(r.get("ssim"), 3),
                      _fmt(r.get("iou"), 3), _fmt(r.get("chamfer"), 4), _fmt(r.get("normal_consistency"), 3),
                      _pct(r.get("faces_off_30")), _fmt(r.get("surface_distance"), 4), retrieved,
                      _fmt((base or {}).get("psnr")))  # fmt: skip

    for r in result["prompts"]:
        add(r["prompt"], r["unseen"], r, r.get("retrieved") or "-", r.get("baseline"))
    groups = result["groups"]
    if len(groups) > 1:  # one mean per kind of unseen, then the overall one
        for kind, group in groups.items():
            add(f"mean, {kind} ({group['prompts']})", kind, group["mean"], "", group["baseline_mean"])
    add("mean", "", result["mean"], "", result["baseline_mean"])
    if result.get("truth_surface_mean"):  # the same marching cubes on the exact SDF
        add("truth mesh (ceiling)", "", result["truth_surface_mean"], "", None)
    stderr.print(table)


@app.command()
@config_options(StudioConfig)
def studio(
    prompts_file: Path = typer.Argument(..., help="Text file, one studio prompt per line.", show_default=False),
    out: Path = typer.Option(..., help="Directory to write one dataset per prompt into.", show_default=False),
    cfg: StudioConfig = None,
    json_out: bool = JsonOpt,
):
    """Write ground-truth datasets (NeRF-synthetic transforms.json + RGBA PNGs) of studio prompts.

    Example: hf studio prompts/chair.txt --out data/chair
    """
    from ..studio.dataset import write_datasets

    prompts = read_prompt_file(prompts_file)
    check_out_dir(out)
    with ProgressBars() as bars:
        written = write_datasets(prompts, out, cfg, bars)
    emit(
        {"out": str(out), "datasets": [str(p) for p in written], "views": cfg.views, "resolution": cfg.resolution},
        json_out,
        f"wrote {len(written)} dataset(s) under {out}",
    )
