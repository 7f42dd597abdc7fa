"""`hf` / `hfcli`: the command line. Parses, validates and prints; the maths lives in the core.

Every error a user can cause is one line on stderr and a non-zero exit. `--json` prints one
JSON object as the last line of stdout; progress bars go to stderr. Any first word that is
not ours (download, auth, cache, upload, ...) is handed to huggingface_hub's own `hf`.
"""

from __future__ import annotations

import gc
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import defaults as D
from .errors import HfcliError

OUR_COMMANDS = ("teach", "distill", "generate", "finetune", "interpolate", "export", "render", "eval", "studio")
EXIT_ERROR = 1
EXIT_USAGE = 2

stderr = Console(stderr=True)
app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help=(
        "Text to NeRF and glTF mesh with a dynamic hypernetwork (HyperFields).\n\n"
        "Train teachers on prompt files, distil them into one student, then turn any prompt "
        "into a mesh in one forward pass. Any other command (download, auth, cache, upload, ...) "
        "is passed on to huggingface_hub's `hf`."
    ),
)

JsonOpt = typer.Option(False, "--json", help="Print one JSON object (paths, figures, timings) as the last line.")
ModelArg = typer.Argument(
    ..., help="A teacher or student checkpoint, a baked NeRF (.safetensors), or 'default' (the bundled model).", show_default=False
)
ModelOpt = typer.Option("default", help="A student or teacher checkpoint; 'default' is the model bundled with hfcli.")
PromptOpt = typer.Option(None, "--prompt", "-p", help="Prompt to bake (needed for a teacher or student).")


def _use_backend(value: Optional[str]) -> Optional[str]:
    from .render import backend

    backend.on_build = lambda msg: stderr.print(msg, highlight=False, markup=False, soft_wrap=True)
    try:
        backend.use(value)
    except backend.BackendError as err:
        raise typer.BadParameter(str(err)) from None
    return value


BackendOpt = typer.Option(
    None, callback=_use_backend, show_default="auto, or $HFCLI_BACKEND",
    help="Raymarcher: auto (the fastest that works), torch, cpp (C++ kernels, built on first use) or cuda.",
)
GuidanceOpt = typer.Option(
    "auto", help="auto | studio | sd. auto is sd when --sd-model is given, else studio (prompts in its vocabulary)."
)
SdModelOpt = typer.Option(
    None, help="Stable Diffusion for --guidance sd: a local diffusers directory, or a model id already in the "
    "Hugging Face cache (nothing is downloaded; get one with `hf download stabilityai/stable-diffusion-2-1-base`).",
)
GuidanceScaleOpt = typer.Option(D.SD_GUIDANCE_SCALE, help="Classifier-free guidance scale of score distillation (sd).")


# ───────────────────────────── helpers ─────────────────────────────


def emit(result: dict, as_json: bool, summary: str) -> None:
    """Scripts get the JSON object as the last stdout line; people get one summary line."""
    if as_json:
        print(json.dumps(result))
    else:
        stderr.print(summary, soft_wrap=True, highlight=False)


def read_prompt_file(path: Path) -> list[str]:
    """Non-blank lines that are not #-comments, each checked for length."""
    from .text import check_prompt

    if not path.exists():
        raise HfcliError(f"no such prompt file: {path}")
    if path.is_dir():
        raise HfcliError(f"{path} is a directory; give a text file with one prompt per line")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise HfcliError(f"{path} is not a UTF-8 text file") from None
    prompts = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not prompts:
        raise HfcliError(f"{path} holds no prompts (one prompt per line; # starts a comment)")
    for n, prompt in enumerate(prompts, 1):
        try:
            check_prompt(prompt)
        except HfcliError as err:
            raise HfcliError(f"{path}, prompt {n}: {err}") from None
    return prompts


def check_out(path: Path, suffixes: tuple[str, ...]) -> Path:
    from .fsutil import check_writable

    if path.suffix.lower() not in suffixes:
        raise HfcliError(f"--out {path}: expected a {' or '.join(suffixes)} file")
    return check_writable(path)


def check_positive(name: str, value: int, minimum: int = 1) -> None:
    if value < minimum:
        raise HfcliError(f"{name} must be at least {minimum} (got {value})")


def resolve_device(device: str) -> str:
    """The pure-PyTorch path trains on the CPU; GPU training arrives with the ext/ kernels."""
    if device in ("auto", "cpu"):
        return "cpu"
    if device == "cuda":
        raise HfcliError("--device cuda is not supported yet: this release trains and renders on the CPU")
    raise HfcliError(f"--device must be auto, cpu or cuda (got {device!r})")


def sd_config(sd_model: Optional[str], guidance_scale: float, device: str, seed: int):
    """Stable Diffusion settings when --sd-model is given (the NeRF itself trains on the CPU;
    --device places the diffusion model), else None."""
    if sd_model is None:
        return None
    from .guidance.sd import SDConfig

    if device not in ("auto", "cpu", "cuda"):
        raise HfcliError(f"--device must be auto, cpu or cuda (got {device!r})")
    if not guidance_scale > 0:
        raise HfcliError(f"--guidance-scale must be positive (got {guidance_scale})")
    return SDConfig(model=sd_model, guidance_scale=guidance_scale, device=device, seed=seed)


class ProgressBars:
    """A Rich progress bar per task; the core reports through `__call__` (see hfcli.progress)."""

    def __init__(self, enabled: bool = True):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description:<24}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[figures]}"),
            console=stderr,
            disable=not enabled,
            transient=False,
        )
        self.tasks: dict[str, int] = {}

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def __call__(self, task: str, done: int, total: int, figures: dict) -> None:
        if task not in self.tasks:
            self.tasks[task] = self.progress.add_task(task, total=total, figures="")
        shown = "  ".join(f"{k} {v:.2f}" for k, v in figures.items() if k in ("psnr", "loss") and isinstance(v, float))
        self.progress.update(self.tasks[task], completed=done, total=total, figures=shown)


# ───────────────────────────── commands ─────────────────────────────


@app.command()
def teach(
    prompts_file: Path = typer.Argument(..., help="Text file, one prompt per line (# comments allowed).", show_default=False),
    guidance: str = GuidanceOpt,
    sd_model: Optional[str] = SdModelOpt,
    guidance_scale: float = GuidanceScaleOpt,
    steps: int = typer.Option(D.TEACH_STEPS, help="Training steps."),
    out: Optional[Path] = typer.Option(None, help="Checkpoint to write (default: teachers/<prompt file stem>.safetensors)."),
    seed: int = typer.Option(0, help="Random seed (rays, initialisation)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last save in --out."),
    rays_per_step: int = typer.Option(D.RAYS_PER_STEP, help="Rays rendered per training step."),
    json_out: bool = JsonOpt,
    backend: Optional[str] = BackendOpt,
):
    """Train a teacher: a hypernetwork over the prompts of one file.

    Example: hf teach prompts/bowl.txt --out teachers/bowl.safetensors
    """
    from .train.teach import TeachConfig, teach as run_teach

    from .guidance.factory import resolve_guidance

    prompts = read_prompt_file(prompts_file)
    sd = sd_config(sd_model, guidance_scale, device, seed)
    resolve_guidance(guidance, prompts, sd)
    cfg = TeachConfig(rays_per_step=rays_per_step)
    check_positive("--steps", steps)
    cfg.train.steps = steps
    check_positive("--rays-per-step", rays_per_step, minimum=len(prompts))
    cfg.train.seed = seed
    if sd is None:
        resolve_device(device)
    out = out or Path("teachers") / f"{prompts_file.stem}.safetensors"
    check_out(out, (".safetensors",))
    if resume and not out.exists():
        raise HfcliError(f"--resume: no checkpoint at {out} to resume from")
    with ProgressBars() as bars:
        result = run_teach(prompts, out, cfg, guidance, resume=resume, report=bars, sd=sd)
    psnr = "n/a" if result["psnr"] is None else f"{result['psnr']:.2f} dB"
    emit(result, json_out, f"wrote {result['out']}: {result['steps']} steps, {result['seconds']:.0f} s, PSNR {psnr}")


@app.command()
def distill(
    teachers: list[Path] = typer.Argument(None, help="Teacher checkpoints (.safetensors).", show_default=False),
    prompts_file: Optional[Path] = typer.Option(None, "--prompts", help="Prompts the student learns (default: every teacher prompt)."),
    out: Path = typer.Option(Path("student.safetensors"), help="Student checkpoint to write."),
    steps: int = typer.Option(D.DISTILL_STEPS, help="Training steps."),
    seed: int = typer.Option(0, help="Random seed."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last save in --out."),
    static: bool = typer.Option(False, "--static", help="Ablation: weight heads see the scene code only (no pooled activations)."),
    rays_per_step: int = typer.Option(D.RAYS_PER_STEP, help="Rays rendered per training step."),
    plane_features: int = typer.Option(D.STUDENT_PLANE_FEATURES, help="Channels of the shared tri-plane (all prompts share it)."),
    grid_features: int = typer.Option(D.STUDENT_GRID_FEATURES, help="Channels of the shared coarse 3D grid."),
    json_out: bool = JsonOpt,
    backend: Optional[str] = BackendOpt,
):
    """Distil teachers into one student that holds all their prompts and answers new ones.

    Example: hf distill teachers/*.safetensors --prompts prompts/train.txt --out student.safetensors
    """
    from .train.distill import distill as run_distill
    from .train.fit import FitConfig

    prompts = read_prompt_file(prompts_file) if prompts_file is not None else None
    check_positive("--steps", steps)
    check_positive("--rays-per-step", rays_per_step)
    check_positive("--plane-features", plane_features)
    check_positive("--grid-features", grid_features)
    check_out(out, (".safetensors",))
    if resume and not out.exists():
        raise HfcliError(f"--resume: no checkpoint at {out} to resume from")
    cfg = FitConfig(rays_per_step=rays_per_step)
    cfg.train.steps, cfg.train.seed, cfg.hyper.dynamic = steps, seed, not static
    cfg.field.plane_features, cfg.field.grid_features = plane_features, grid_features
    with ProgressBars() as bars:
        result = run_distill(list(teachers or []), prompts, out, cfg, resume=resume, report=bars)
    psnr = "n/a" if result["psnr"] is None else f"{result['psnr']:.2f} dB"
    emit(result, json_out, f"wrote {result['out']}: {len(result['prompts'])} prompts, {result['steps']} steps, PSNR {psnr}")


@app.command()
def generate(
    prompt: Optional[str] = typer.Argument(None, help="The prompt (or give --prompts FILE).", show_default=False),
    model: Path = ModelOpt,
    out: Optional[Path] = typer.Option(None, help="Mesh to write (.glb) for one prompt."),
    prompts_file: Optional[Path] = typer.Option(None, "--prompts", help="Many prompts, one per line: meshes go to --out-dir."),
    out_dir: Optional[Path] = typer.Option(None, help="Directory for the meshes of --prompts."),
    nerf: Optional[Path] = typer.Option(None, help="Also write the baked NeRF (.safetensors); one prompt only."),
    preview: Optional[Path] = typer.Option(None, help="Also write a preview render (.png); one prompt only."),
    resolution: int = typer.Option(D.MESH_RESOLUTION, help="Marching-cubes grid resolution per axis."),
    json_out: bool = JsonOpt,
    backend: Optional[str] = BackendOpt,
):
    """A mesh from text in one forward pass of the hypernetwork, zero-shot.

    Example: hf generate "a pink chair" --out chair.glb   (the bundled default model)
    """
    from .generate import generate_many

    if (prompt is None) == (prompts_file is None):
        raise HfcliError("give one prompt, or --prompts FILE with --out-dir DIR")
    if prompt is not None:
        if out is None:
            raise HfcliError("give --out X.glb for the mesh")
        check_out(out, (".glb",))
        jobs = [(prompt, out)]
    else:
        if out_dir is None:
            raise HfcliError("--prompts needs --out-dir DIR")
        if nerf is not None or preview is not None:
            raise HfcliError("--nerf and --preview are for one prompt; drop them with --prompts")
        from .guidance.dataset import slug
        from .fsutil import check_writable

        prompts = read_prompt_file(prompts_file)
        check_writable(out_dir / "x.glb")
        jobs = [(p, out_dir / f"{slug(p)}.glb") for p in prompts]
    if nerf is not None:
        check_out(nerf, (".safetensors",))
    if preview is not None:
        check_out(preview, (".png",))
    check_positive("--resolution", resolution, minimum=16)
    with ProgressBars(enabled=len(jobs) > 1) as bars:
        results = generate_many(model, jobs, resolution, nerf, preview, report=bars,
                                warn=lambda msg: stderr.print(msg, soft_wrap=True, highlight=False, markup=False))
    result = results[0] if prompt is not None else {"out_dir": str(out_dir), "meshes": results}
    emit(result, json_out, f"wrote {len(results)} mesh(es)" if len(results) > 1 else f"wrote {results[0]['out']}")


@app.command()
def interpolate(
    prompt_a: str = typer.Argument(..., help="Prompt at t = 0.", show_default=False),
    prompt_b: str = typer.Argument(..., help="Prompt at t = 1.", show_default=False),
    model: Path = ModelOpt,
    frames: int = typer.Option(8, help="Number of frames, both ends included."),
    out: Path = typer.Option(..., help="Directory for frame_NNN.glb and morph.gif.", show_default=False),
    resolution: int = typer.Option(64, help="Marching-cubes resolution of each frame."),
    turntable: bool = typer.Option(False, "--turntable", help="Turn the camera while morphing."),
    json_out: bool = JsonOpt,
    backend: Optional[str] = BackendOpt,
):
    """Morph between two prompts in the hypernetwork's conditioning space.

    Example: hf interpolate "a red chair" "a blue bowl" --out morph/   (the bundled default model)
    """
    from .fsutil import check_writable
    from .interpolate import interpolate as run_interpolate
    from .text import check_prompt

    check_prompt(prompt_a)
    check_prompt(prompt_b)
    check_positive("--frames", frames, minimum=2)
    check_positive("--resolution", resolution, minimum=16)
    if out.exists() and not out.is_dir():
        raise HfcliError(f"--out {out} exists and is not a directory")
    check_writable(out / "morph.gif")
    with ProgressBars() as bars:
        result = run_interpolate(model, prompt_a, prompt_b, frames, out, resolution, turntable, report=bars)
    emit(result, json_out, f"wrote {frames} meshes and {result['gif']}")


@app.command("eval")
def eval_(
    model: Path = typer.Argument(..., help="A teacher or student checkpoint, or 'default' (the bundled model).", show_default=False),
    prompts_file: Path = typer.Option(..., "--prompts", help="Studio prompts to measure, e.g. prompts/heldout.txt.", show_default=False),
    mesh: bool = typer.Option(True, "--mesh/--no-mesh", help="Also mesh each prompt for the Chamfer distance."),
    json_out: bool = JsonOpt,
    backend: Optional[str] = BackendOpt,
):
    """Measure a model against studio ground truth: PSNR, SSIM, silhouette IoU, Chamfer distance,
    and the retrieval baseline (the model's nearest training prompt of the same shape).

    Example: hf eval student.safetensors --prompts prompts/heldout.txt --json
    """
    from . import checkpoint as ckpt_io
    from .evaluate import evaluate_model
    from .guidance.vocab import parse_prompt
    from .model import PromptModel

    prompts = read_prompt_file(prompts_file)
    for n, p in enumerate(prompts, 1):
        try:
            parse_prompt(p)
        except HfcliError as err:
            raise HfcliError(f"{prompts_file}, prompt {n}: {err}") from None
    start = time.perf_counter()
    pm = PromptModel.from_checkpoint(ckpt_io.load(model, kinds=("teacher", "student")))
    with ProgressBars() as bars:
        result = evaluate_model(pm, prompts, with_mesh=mesh, report=bars)
    result.update(model=str(model), seconds=round(time.perf_counter() - start, 2))
    if not json_out:
        _print_eval_table(result)
    emit(result, json_out, f"mean PSNR {result['mean']['psnr']:.2f} dB over {len(prompts)} prompts "
         f"(retrieval baseline {_fmt(result['baseline_mean']['psnr'])} dB)")


def _fmt(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_eval_table(result: dict) -> None:
    from rich.table import Table

    table = Table(title=f"hf eval {result['model']}")
    for name in ("prompt", "PSNR", "SSIM", "IoU", "Chamfer", "retrieved", "base PSNR"):
        table.add_column(name, justify="left" if name in ("prompt", "retrieved") else "right")
    rows = result["prompts"] + [{"prompt": "mean", **result["mean"], "retrieved": "",
                                 "baseline": result["baseline_mean"]}]
    for r in rows:
        base = (r.get("baseline") or {}).get("psnr")
        table.add_row(r["prompt"], _fmt(r["psnr"]), _fmt(r["ssim"], 3), _fmt(r["iou"], 3), _fmt(r["chamfer"], 4),
                      r.get("retrieved") or "-", _fmt(base))
    stderr.print(table)


@app.command()
def export(
    model: Path = ModelArg,
    prompt: Optional[str] = PromptOpt,
    out: Path = typer.Option(..., help="Mesh to write (.glb).", show_default=False),
    resolution: int = typer.Option(D.MESH_RESOLUTION, help="Marching-cubes grid resolution per axis."),
    threshold: Optional[float] = typer.Option(
        None, help="Density at the surface (default: measured from the field's own renders)."
    ),
    nerf: Optional[Path] = typer.Option(None, help="Also write the baked NeRF (.safetensors) that was meshed."),
    json_out: bool = JsonOpt,
    backend: Optional[str] = BackendOpt,
):
    """Mesh a NeRF into a binary glTF (.glb) with vertex colours and normals.

    A teacher or student is baked at --prompt first (one forward pass); --nerf keeps that
    baked NeRF, which export, render and finetune take without the hypernetwork.

    Example: hf export teachers/bowl.safetensors --prompt "a red bowl" --out bowl.glb
    """
    from .export import write_glb
    from .model import load_scene
    from .outputs import scene_mesh, surface_threshold

    check_out(out, (".glb",))
    if nerf is not None:
        check_out(nerf, (".safetensors",))
    check_positive("--resolution", resolution, minimum=16)
    start = time.perf_counter()
    scene, encoder_id = load_scene(str(model), prompt)
    mesh_threshold = surface_threshold(scene) if threshold is None else threshold
    mesh = scene_mesh(scene, resolution, mesh_threshold)
    write_glb(mesh, out)
    if nerf is not None:
        from . import checkpoint as ckpt_io
        from .model import nerf_checkpoint

        ckpt_io.save(nerf_checkpoint(scene, encoder_id, {"baked_from": str(model)}), nerf)
    result = {
        "out": str(out),
        "nerf": str(nerf) if nerf else None,
        "threshold": round(mesh_threshold, 3),
        "vertices": int(len(mesh.vertices)),
        "faces": int(len(mesh.faces)),
        "seconds": round(time.perf_counter() - start, 3),
    }
    emit(result, json_out, f"wrote {out}: {result['faces']} triangles")


@app.command()
def render(
    model: Path = ModelArg,
    prompt: Optional[str] = PromptOpt,
    out: Path = typer.Option(..., help="Image to write: .png (a still, or a strip of --views) or .gif (a turntable).", show_default=False),
    resolution: int = typer.Option(D.RENDER_RESOLUTION, help="Image width and height in pixels."),
    views: int = typer.Option(1, help="Number of views around the object."),
    json_out: bool = JsonOpt,
    backend: Optional[str] = BackendOpt,
):
    """Render a still or a turntable of a NeRF.

    Example: hf render teachers/bowl.safetensors -p "a red bowl" --views 24 --out bowl.gif
    """
    from .imageio import save_image
    from .model import load_scene
    from .outputs import turntable

    check_out(out, (".png", ".gif"))
    check_positive("--resolution", resolution, minimum=8)
    check_positive("--views", views)
    start = time.perf_counter()
    scene, _ = load_scene(str(model), prompt)
    frames = [f.numpy() for f in turntable(scene, views, resolution)]
    save_image(frames if len(frames) > 1 else frames[0], out)
    result = {"out": str(out), "views": views, "resolution": resolution, "seconds": round(time.perf_counter() - start, 3)}
    emit(result, json_out, f"wrote {out}")


@app.command()
def studio(
    prompts_file: Path = typer.Argument(..., help="Text file, one studio prompt per line.", show_default=False),
    out: Path = typer.Option(..., help="Directory to write one dataset per prompt into.", show_default=False),
    views: int = typer.Option(D.STUDIO_VIEWS, help="Views per prompt."),
    resolution: int = typer.Option(D.STUDIO_RESOLUTION, help="Image width and height in pixels."),
    json_out: bool = JsonOpt,
):
    """Write ground-truth datasets (NeRF-synthetic transforms.json + RGBA PNGs) of studio prompts.

    Example: hf studio prompts/chair.txt --out data/chair
    """
    from .fsutil import check_writable
    from .guidance.dataset import slug, write_dataset
    from .guidance.vocab import parse_prompt

    prompts = read_prompt_file(prompts_file)
    parsed = [parse_prompt(p) for p in prompts]  # all checked before anything is written
    check_positive("--views", views)
    check_positive("--resolution", resolution, minimum=8)
    if out.exists() and not out.is_dir():
        raise HfcliError(f"--out {out} exists and is not a directory")
    check_writable(out / "transforms.json")
    written = []
    with ProgressBars() as bars:
        for prompt in parsed:
            target = out / slug(prompt.text)
            write_dataset(prompt, target, views, resolution, lambda d, t, p=prompt: bars(p.text, d, t, {}))
            written.append(str(target))
    emit({"out": str(out), "datasets": written, "views": views, "resolution": resolution}, json_out,
         f"wrote {len(written)} dataset(s) under {out}")


@app.command()
def finetune(
    prompt: str = typer.Argument(..., help="The prompt.", show_default=False),
    model: Path = ModelOpt,
    out: Path = typer.Option(..., help="Baked NeRF to write (.safetensors); `hf export` meshes it.", show_default=False),
    guidance: str = GuidanceOpt,
    sd_model: Optional[str] = SdModelOpt,
    guidance_scale: float = GuidanceScaleOpt,
    steps: int = typer.Option(D.FINETUNE_STEPS, help="The most steps to take."),
    target_psnr: Optional[float] = typer.Option(
        None, help="Stop once the PSNR at the 16 eval cameras reaches this many dB (studio guidance)."
    ),
    from_scratch: bool = typer.Option(False, "--from-scratch", help="Start from a fresh NeRF, same settings (to compare)."),
    lr: float = typer.Option(2e-2, help="Learning rate of the MLP weights (the encoding's is 3x this)."),
    seed: int = typer.Option(0, help="Random seed (rays, timesteps, a scratch NeRF's initialisation)."),
    rays_per_step: int = typer.Option(D.RAYS_PER_STEP, help="Rays a step (studio; sd renders whole images)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda: where the diffusion model runs (the NeRF trains on the CPU)."),
    json_out: bool = JsonOpt,
    backend: Optional[str] = BackendOpt,
):
    """Refine one prompt's NeRF, starting from the model's prediction, with studio or SD guidance.

    Example: hf finetune "a red mug" --guidance studio --target-psnr 30 --out mug.safetensors
    """
    from .guidance.factory import make_guidance, resolve_guidance
    from .guidance.studio import POOL_RAYS
    from .text import check_prompt
    from .train.finetune import FinetuneConfig, finetune as run_finetune

    check_prompt(prompt)
    sd = sd_config(sd_model, guidance_scale, device, seed)
    chosen = resolve_guidance(guidance, [prompt], sd)
    if sd is None:
        resolve_device(device)
    if target_psnr is not None and chosen != "studio":
        raise HfcliError("--target-psnr needs studio guidance: only the studio has ground truth to measure against")
    check_positive("--steps", steps)
    check_positive("--rays-per-step", rays_per_step)
    if not lr > 0:
        raise HfcliError(f"--lr must be positive (got {lr})")
    check_out(out, (".safetensors",))
    cfg = FinetuneConfig(steps=steps, lr=lr, lr_encoding=3 * lr, rays_per_step=rays_per_step, target_psnr=target_psnr, seed=seed)
    with ProgressBars() as bars:
        def build(prompts):
            return make_guidance(chosen, prompts, rays_per_step, POOL_RAYS, seed, sd, bars)

        result = run_finetune(prompt, model, out, cfg, build, from_scratch=from_scratch, report=bars)
    result.pop("history")
    reached = "" if target_psnr is None else (
        f", {target_psnr} dB at step {result['steps_to_target']}" if result["reached"] else f", {target_psnr} dB not reached")
    psnr = "" if result["psnr"] is None else f", PSNR {result['psnr']:.2f} dB"
    emit(result, json_out, f"wrote {out}: {result['steps']} steps, {result['train_seconds']:.0f} s{psnr}{reached}")


# ───────────────────────────── entry point ─────────────────────────────


def _delegate_to_hub(argv: list[str]) -> int:
    try:
        from huggingface_hub.cli.hf import main as hub_main
    except ImportError:
        stderr.print(f"error: unknown command {argv[0]!r}; hfcli commands: {', '.join(OUR_COMMANDS)}")
        return EXIT_USAGE
    sys.argv = ["hf", *argv]
    try:
        hub_main()
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else EXIT_ERROR
    return 0


def run(argv: list[str]) -> int:
    """Run the CLI on `argv` (without the program name) and return the exit code."""
    import click

    # Typer 0.2x raises its own vendored click's exceptions; older Typer raises click's.
    usage_errors = (click.ClickException, getattr(typer, "TyperException", click.ClickException))

    if argv and not argv[0].startswith("-") and argv[0] not in OUR_COMMANDS:
        return _delegate_to_hub(argv)
    warnings.showwarning = _show_warning
    try:
        result = app(args=argv, prog_name="hf", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except HfcliError as err:
        return _error(str(err), EXIT_ERROR)
    except usage_errors as err:
        message = err.format_message() if hasattr(err, "format_message") else str(err)
        return _error(message.replace("\n", " "), EXIT_USAGE)
    except (KeyboardInterrupt, click.exceptions.Abort, typer.Abort):
        return _error("interrupted", 130)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one line on stderr, without the source location."""
    print(f"warning: {message}", file=sys.stderr)


def _error(message: str, code: int) -> int:
    """One line on stderr, never a traceback."""
    print(f"error: {message}", file=sys.stderr)
    return code


def main() -> None:
    code = run(sys.argv[1:])
    # At exit Python's last collections tear down torch's import-time objects one by one
    # (0.3-0.4 s measured); frozen objects are left for the OS to reclaim.
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    main()
