"""Commands that make files from a model: generate, interpolate, export, render."""

from __future__ import annotations

from pathlib import Path

import typer

from ..device import resolve
from ..errors import HfcliError
from ..output_config import ExportConfig, InterpolateConfig, MeshConfig, RenderConfig
from .common import (
    BackendOpt,
    DeviceOpt,
    JsonOpt,
    ModelArg,
    ModelOpt,
    ProgressBars,
    PromptOpt,
    app,
    check_not_the_model,
    check_out,
    check_out_dir,
    emit,
    read_prompt_file,
    warn,
)
from .options import config_options


@app.command()
@config_options(MeshConfig)
def generate(
    prompt: str | None = typer.Argument(None, help="The prompt (or give --prompts FILE).", show_default=False),
    model: Path = ModelOpt,
    out: Path | None = typer.Option(
        None, help="Mesh to write for one prompt: .glb (textured), .obj (+ .mtl + .png) or .ply (vertex colours)."
    ),
    prompts_file: Path | None = typer.Option(
        None, "--prompts", help="Many prompts, one per line: meshes go to --out-dir."
    ),
    out_dir: Path | None = typer.Option(None, help="Directory for the meshes of --prompts."),
    nerf: Path | None = typer.Option(None, help="Also write the baked NeRF (.safetensors); one prompt only."),
    preview: Path | None = typer.Option(None, help="Also write a preview render (.png); one prompt only."),
    cfg: MeshConfig = None,
    json_out: bool = JsonOpt,
    backend: str | None = BackendOpt,
    device: str = DeviceOpt,
):
    """A mesh from text in one forward pass of the hypernetwork, zero-shot: decimated to --faces,
    UV-unwrapped, its colour baked into a texture (glTF PBR material), unless --vertex-colors.

    Example: hf generate "a pink chair" --out chair.glb   (the bundled default model)
    """
    from ..generate import generate_many

    if (prompt is None) == (prompts_file is None):
        raise HfcliError("give one prompt, or --prompts FILE with --out-dir DIR")
    if prompt is not None:
        if out is None:
            raise HfcliError("give --out X.glb for the mesh")
        jobs = [(prompt, _check_mesh_out(out, cfg.format))]
    else:
        if out_dir is None:
            raise HfcliError("--prompts needs --out-dir DIR")
        if nerf is not None or preview is not None:
            raise HfcliError("--nerf and --preview are for one prompt; drop them with --prompts")
        from ..studio.dataset import unique_slugs

        prompts = read_prompt_file(prompts_file)
        check_out_dir(out_dir)
        jobs = [(p, out_dir / f"{name}.{cfg.format or 'glb'}") for p, name in zip(prompts, unique_slugs(prompts))]
    if nerf is not None:
        check_not_the_model(check_out(nerf, (".safetensors",)), model)
    if preview is not None:
        check_out(preview, (".png",))
    with ProgressBars(enabled=len(jobs) > 1) as bars:
        results = generate_many(model, jobs, cfg, nerf, preview, report=bars, warn=warn, device=resolve(device))
    result = results[0] if prompt is not None else {"out_dir": str(out_dir), "meshes": results}
    emit(result, json_out, f"wrote {len(results)} mesh(es)" if len(results) > 1 else f"wrote {results[0]['out']}")


@app.command()
@config_options(InterpolateConfig)
def interpolate(
    prompt_a: str = typer.Argument(..., help="Prompt at t = 0.", show_default=False),
    prompt_b: str = typer.Argument(..., help="Prompt at t = 1.", show_default=False),
    model: Path = ModelOpt,
    out: Path = typer.Option(
        ..., help="Directory for frame_NNN.glb (or .obj, .ply by --format) and morph.gif.", show_default=False
    ),
    cfg: InterpolateConfig = None,
    json_out: bool = JsonOpt,
    backend: str | None = BackendOpt,
    device: str = DeviceOpt,
):
    """Morph between two prompts in the hypernetwork's conditioning space.

    Example: hf interpolate "a red chair" "a blue bowl" --out morph/   (the bundled default model)
    """
    from ..interpolate import interpolate as run_interpolate

    check_out_dir(out)
    with ProgressBars() as bars:
        result = run_interpolate(model, prompt_a, prompt_b, out, cfg, report=bars, warn=warn, device=resolve(device))
    emit(result, json_out, f"wrote {cfg.frames} meshes and {result['gif']}")


@app.command()
@config_options(ExportConfig)
def export(
    model: Path = ModelArg,
    prompt: str | None = PromptOpt,
    out: Path = typer.Option(
        ..., help="Mesh to write: .glb (textured), .obj (+ .mtl + .png) or .ply (vertex colours).", show_default=False
    ),
    nerf: Path | None = typer.Option(None, help="Also write the baked NeRF (.safetensors) that was meshed."),
    cfg: ExportConfig = None,
    json_out: bool = JsonOpt,
    backend: str | None = BackendOpt,
    device: str = DeviceOpt,
):
    """Mesh a NeRF into a textured binary glTF (.glb), an OBJ or a PLY.

    A teacher or student is baked at --prompt first (one forward pass); --nerf keeps that
    baked NeRF, which export, render and finetune take without the hypernetwork.

    Example: hf export teachers/bowl.safetensors --prompt "a red bowl" --out bowl.glb
    """
    from ..generate import export_model

    _check_mesh_out(out, cfg.format)
    if nerf is not None:
        check_not_the_model(check_out(nerf, (".safetensors",)), model)
    result = export_model(model, prompt, out, cfg, nerf, warn=warn, device=resolve(device))
    emit(result, json_out, f"wrote {out}: {result['faces']} triangles")


def _check_mesh_out(out: Path, fmt: str | None) -> Path:
    """An --out mesh path: a known suffix that agrees with --format, in a writable place."""
    from ..mesh_io import SUFFIXES, mesh_format

    check_out(out, tuple(SUFFIXES))
    mesh_format(out, fmt)
    return out


@app.command()
@config_options(RenderConfig)
def render(
    model: Path = ModelArg,
    prompt: str | None = PromptOpt,
    out: Path = typer.Option(
        ..., help="Image to write: .png (a still, or a strip of --views) or .gif (a turntable).", show_default=False
    ),
    cfg: RenderConfig = None,
    json_out: bool = JsonOpt,
    backend: str | None = BackendOpt,
    device: str = DeviceOpt,
):
    """Render a still or a turntable of a NeRF.

    Example: hf render teachers/bowl.safetensors -p "a red bowl" --views 24 --out bowl.gif
    """
    from ..generate import render_model

    check_out(out, (".png", ".gif"))
    result = render_model(model, prompt, out, cfg, resolve(device))
    emit(result, json_out, f"wrote {out}")
