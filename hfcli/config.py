"""Every setting of every command, typed, with its default, its help and its bounds.

A field declared with `option(...)` is a command-line option of each command whose config
reaches it (hfcli/cli/options.py declares the options from these fields, and `--help` shows
their defaults); plain fields are internal settings. `validate(cfg)` checks the bounds once, in
the core, and names the option in the error. Light on purpose: no torch, so `hf --help` and
the CLI's option declarations import nothing heavy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import HfcliError

BUNDLED_ID = "bundled:all-MiniLM-L6-v2"
MAX_TOKENS = 32  # studio prompts are ~6 tokens; long prompts are truncated, not rejected
EVAL_RESOLUTION = 64  # of the 16 eval views (hfcli/evaluate.py)
POOL_RAYS = 1 << 17  # studio ground-truth rays rendered per shape before training
GUIDANCES = ("auto", "studio", "sd")
FIELD_KINDS = ("density", "sdf")
# The depth term's weight: with 1 a bowl teacher's normals went 0.772 → 0.978 at the same PSNR;
# 10 cost an sdf teacher 8.7 dB against 1 (BENCHMARKS.md). At 1 a depth error of 0.01 weighs
# as a colour MSE of 1e-4 (40 dB).
DEPTH_WEIGHT = 1.0
DEVICES = ("auto", "cpu", "cuda")
DENSITY_WEIGHT_HELP = """Weight of the student's density error against its teacher's at points about the teacher's
surface (log(1 + density), squared): it copies their geometry, not only their renders. 0: off."""
TEACH_DENSITY_HELP = """Weight of the field's density error against the studio's exact density at points about the
true surface and anywhere in the box (studio guidance; sd has no density to copy; log(1 + density), squared):
what no view shows, a slot's floor or a body's inside, is pinned too. 0: off."""

# Size bounds, from the resident memory measured on the CPU build (BENCHMARKS.md, "Size
# bounds"), so no size option can take a process past about 2 GB.
MAX_RAYS_PER_STEP = (12_288, "about 90 KB a ray while training; 12,288 take about 2 GB")
MAX_MESH_RESOLUTION = (320, "about 36 bytes a lattice point while meshing; 320³ take about 1.6 GB")
MAX_FRAMES = (2400, "about 0.5 MB a frame is held for the GIF until it is written; 2,400 take about 1.6 GB")
MAX_IMAGE_SIZE = (4096, "a 4096² view alone holds about 1.2 GB while it renders")
MAX_IMAGE_PIXELS = 24_000_000  # views × resolution²: about 70 bytes a pixel until the file is written
MAX_MESH_SMOOTH_VOXELS = (4.0, "a wider blur rounds away anything thinner than about ten voxels")


def option(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    min: float | None = None,
    gt: float | None = None,
    max: tuple[float, str] | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A config field that is also a command-line option (`--name-with-dashes` unless `flag`
    says otherwise; `"--on/--off"` for a bool). `min` (>=) and `gt` (>) bound numbers; `max` is
    (bound, why): size options are bounded by the memory they imply, and the error says so.
    None always passes, for options that may be left unset."""
    if max is not None:
        help = f"{help} At most {max[0]:,}."
    meta = {"help": help, "flag": flag, "min": min, "gt": gt, "max": max, "choices": choices}
    return field(default=default, metadata={"option": meta})


def section(cls: type, **overrides: Any) -> Any:
    """A nested config field, with defaults of its own for this command."""
    return field(default_factory=lambda: cls(**overrides))


def flag_of(f: dataclasses.Field) -> str:
    """The option's first flag: "--sd-model" for field sd_model, "--static" for "--dynamic/--static"."""
    flag = f.metadata["option"]["flag"] or "--" + f.name.replace("_", "-")
    return flag.split("/")[0]


def options_of(cfg_type: type) -> list[tuple[tuple[str, ...], dataclasses.Field]]:
    """(path of field names, field) of every option reachable from a config class, in order."""
    out = []
    for f in dataclasses.fields(cfg_type):
        if "option" in f.metadata:
            out.append(((f.name,), f))
        elif f.default_factory is not dataclasses.MISSING and dataclasses.is_dataclass(section := f.default_factory()):
            out += [((f.name, *path), sub) for path, sub in options_of(type(section))]
    return out


def validate(cfg: Any) -> Any:
    """Check every option of `cfg` (recursively) against its bounds; returns cfg."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            validate(value)
            continue
        meta = f.metadata.get("option")
        if meta is None or value is None:
            continue
        name = flag_of(f)
        if meta["choices"] is not None and value not in meta["choices"]:
            raise HfcliError(f"{name} must be one of {', '.join(meta['choices'])} (got {value!r})")
        if meta["min"] is not None and not value >= meta["min"]:
            raise HfcliError(f"{name} must be at least {meta['min']:g} (got {value:g})")
        if meta["gt"] is not None and not value > meta["gt"]:
            raise HfcliError(f"{name} must be above {meta['gt']:g} (got {value:g})")
        if meta.get("max") is not None and not value <= meta["max"][0]:
            bound, why = meta["max"]
            raise HfcliError(f"{name} must be at most {bound:,} (got {value:,}): {why}")
    if hasattr(cfg, "check"):
        cfg.check()
    return cfg


class Config:
    """Mixin: `to_dict()` for checkpoint headers."""

    def to_dict(self) -> dict:
        return asdict(self)


# ───────────────────────────── the model ─────────────────────────────


@dataclass
class FieldConfig(Config):
    """The NeRF: a shared tri-plane + grid encoding, and an MLP whose weights a prompt sets."""

    plane_res: int = 128  # tri-plane resolution (shared by all prompts)
    # A student's shared encoding. Doubling both bought +0.3 dB on a 3-shape pilot at ~1.4x the
    # step time (BENCHMARKS.md), so the default stays at a teacher's width.
    plane_features: int = option(16, "Channels of the shared tri-plane (all prompts share it).", min=1)
    grid_res: int = 32  # coarse 3D grid resolution, resolves what the planes alias
    grid_features: int = option(8, "Channels of the shared coarse 3D grid.", min=1)
    hidden: int = 64  # width of the text-dependent MLP
    n_hidden: int = 2  # hidden layers; the MLP has n_hidden + 1 weight matrices
    sigma_max: float = 300.0  # bounded density: sigma = sigma_max * sigmoid(raw + SIGMA_SHIFT)
    sigma_shift: float = -6.0  # so that a fresh field is nearly transparent
    kind: str = option(
        "density",
        "density: the MLP's first output is density (as before); sdf: a signed distance, with density "
        "sigma_max * sigmoid(-sdf / beta) and an eikonal term, for smooth surfaces meshed at its zero level.",
        flag="--field",
        choices=FIELD_KINDS,
    )
    # sdf: the boundary's softness starts here and is learned (VolSDF, NeuS) at the encoding's rate.
    sdf_beta: float = 0.02
    # sdf: a fresh field is a ball of this radius (|x| - r + the MLP's output): carved, not grown.
    sdf_init_radius: float = 0.5
    eikonal_weight: float = option(
        0.03, "--field sdf: weight of the eikonal term (|grad sdf| - 1)^2 at random points of the box.", min=0
    )
    eikonal_points: int = 1024  # of the box, drawn per scene and step for the surface terms
    smoothness_weight: float = option(
        0.1, "--field sdf: weight of normal smoothness near the zero level (hfcli/train/objectives.py).", min=0
    )
    # The Gaussian blur, in lattice voxels, its meshes get before marching cubes: how noisy this
    # field is at the voxel scale, so the checkpoint says it. 1 takes out a learned density's noise;
    # the bundled default records 0.5: trained on the studio's density, it is clean enough that a
    # wider blur only rounds its edges (BENCHMARKS.md, "Less blur for a clean field").
    mesh_smooth_voxels: float = 1.0

    @property
    def in_features(self) -> int:
        return 3 * self.plane_features + self.grid_features

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each MLP weight matrix; the last outputs (density, r, g, b)."""
        dims = [self.in_features] + [self.hidden] * self.n_hidden + [4]
        return [(dims[i + 1], dims[i]) for i in range(len(dims) - 1)]


@dataclass
class HyperConfig(Config):
    """The hypernetwork: prompt tokens → the MLP's weights (hfcli/hyper.py)."""

    d_model: int = 128
    n_layers: int = 2
    n_heads: int = 4
    head_hidden: int = 128
    dynamic: bool = option(
        True,
        "Weight heads see the previous layer's pooled activations (--static: the "
        "ablation where they see the scene code only).",
        flag="--dynamic/--static",
    )
    n_probe: int = 512
    text_dim: int = 384
    max_tokens: int = MAX_TOKENS


# ───────────────────────────── training ─────────────────────────────


@dataclass
class LoopConfig(Config):
    """The one training loop (hfcli/train/loop.py), whatever it optimises."""

    steps: int = option(400, "Training steps.", min=1)  # > 28 dB on every studio teacher set
    lr: float = option(
        2e-3,
        "Learning rate of the text-dependent weights (the hypernetwork, or a finetuned "
        "NeRF's MLP); the shared encoding learns at --encoding-lr-scale times it.",
        gt=0,
    )
    # Shared tri-plane/grid features learn faster, as in Instant-NGP.
    encoding_lr_scale: float = option(10.0, "The encoding's learning rate over --lr.", gt=0)
    lr_final_fraction: float = 0.1  # exponential decay to this fraction at the last step
    grid_every: int = 16
    grid_warmup: int = 32  # let densities form before empty space is culled
    save_every: int = option(250, "Steps between resumable saves to --out (Ctrl-C and SIGTERM also save).", min=1)
    snapshot_every: int = 50  # in-memory good state to roll back to
    clip_grad: float = 1.0
    collapse_factor: float = 5.0  # loss above this × its recent median counts as a divergence
    max_rollbacks: int = 5  # then training stops with an error; each rollback halves the rates
    seed: int = option(0, "Random seed (rays, initialisation, timesteps).")


@dataclass
class SDConfig(Config):
    """Score distillation with Stable Diffusion (hfcli/guidance/sd.py)."""

    model: str | None = option(
        None,
        "Stable Diffusion for --guidance sd: a local diffusers directory, or a model id already in the "
        "Hugging Face cache (nothing is downloaded; get one with `hf download stabilityai/stable-diffusion-2-1-base`).",
        flag="--sd-model",
    )
    guidance_scale: float = option(100.0, "Classifier-free guidance scale of score distillation (DreamFusion).", gt=0)
    device: str = option(
        "auto",
        "auto | cpu | cuda: where the command computes; auto is CUDA when torch sees a GPU, and cuda without one is "
        "an error. The CUDA path has not been run on a GPU yet (README).",
        choices=DEVICES,
    )
    t_range: tuple[float, float] = (0.02, 0.98)
    render_resolution: int = 64  # NeRF renders are this size, then upsampled to the model's own
    sd_resolution: int | None = None  # None: the UNet's native size (512 for SD 2.1 base)
    seed: int = 0


def _guidance_option() -> Any:
    return option(
        "auto",
        "auto | studio | sd. auto is sd when --sd-model is given, else studio (prompts in its vocabulary).",
        choices=GUIDANCES,
    )


def _depth_weight_option(default: float = DEPTH_WEIGHT) -> Any:
    return option(
        default,
        "Weight of a depth term beside the colour loss, where the guidance knows each ray's depth (the "
        "studio's truth, a teacher's render): it pins the surface where colour alone lets it bump. 0: colour only.",
        min=0,
    )


def _reword_option(default: float = 0.0) -> Any:
    return option(
        default,
        "Chance that a step reads a prompt in another wording (framing, style words, word order, case: "
        "hfcli/studio/wording.py) while its target stays the prompt's scene, so the model answers however "
        "a user words it. 0: the prompts as written.",
        min=0,
    )


@dataclass
class HyperTrainConfig(Config):
    """What teach and distill share: a HyperNet over prompts, trained on one loop."""

    loop: LoopConfig = section(LoopConfig)
    field: FieldConfig = section(FieldConfig)
    hyper: HyperConfig = section(HyperConfig)
    rays_per_step: int = option(4096, "Rays rendered per training step.", min=1, max=MAX_RAYS_PER_STEP)
    prompts_per_step: int = 8  # scenes a step renders (and a grid update refreshes)
    depth_weight: float = _depth_weight_option()
    reword: float = _reword_option()
    text_encoder: str = BUNDLED_ID


@dataclass
class TeachConfig(HyperTrainConfig):
    guidance: str = _guidance_option()
    # 0.01: a toaster teacher's mesh went 0.832 → 0.989 normals, 30.7% → 3.1% off, 0.048 → 0.0014 off
    # the truth, at 0.56 dB (BENCHMARKS.md, "Teachers that copy the studio's density"); 0.1 cost 4.4 dB.
    density_weight: float = option(0.01, TEACH_DENSITY_HELP, min=0)
    sd: SDConfig = section(SDConfig)
    pool_rays: int = POOL_RAYS


@dataclass
class DistillConfig(HyperTrainConfig):
    # The full run (BENCHMARKS.md): 3000 steps left the student 1.2 dB from its teachers, 4000 0.9 dB.
    loop: LoopConfig = section(LoopConfig, steps=4000)
    # Off: beside the density term it smoothed nothing more (BENCHMARKS.md, "The student copies…").
    depth_weight: float = _depth_weight_option(0.0)
    # Users word prompts their own way: without this the bundled student lost 2.43 dB on the
    # mean of seven held-out wordings; the world student with it, 0.29 (BENCHMARKS.md, "Wording").
    reword: float = _reword_option(0.5)
    # 0.03 finished the bundled student (BENCHMARKS.md, "The student copies its teachers' density").
    density_weight: float = option(0.03, DENSITY_WEIGHT_HELP, min=0)


@dataclass
class FinetuneConfig(Config):
    """One baked NeRF optimised directly (hfcli/train/finetune.py)."""

    # Rates 3-10x teach's: one NeRF with direct supervision takes them (a red mug from scratch:
    # 23 dB after 10 studio steps against 18 dB at 5e-3 / 2e-2). 300 steps is the most a
    # finetune takes; studio finetunes usually stop earlier at --target-psnr.
    loop: LoopConfig = section(
        LoopConfig, steps=300, lr=2e-2, encoding_lr_scale=3.0, lr_final_fraction=0.3, grid_warmup=16
    )
    guidance: str = _guidance_option()
    sd: SDConfig = section(SDConfig)
    rays_per_step: int = option(4096, "Rays a step (studio; sd renders whole images).", min=1, max=MAX_RAYS_PER_STEP)
    pool_rays: int = POOL_RAYS
    depth_weight: float = _depth_weight_option()
    target_psnr: float | None = option(
        None, "Stop once the PSNR at the 16 eval cameras reaches this many dB (studio guidance).", gt=0
    )
    # >= 0: start from the prediction's occupancy grown by this many cells (cheaper early steps).
    # Negative (the default): every cell occupied, as for a scratch field. For a shape the model
    # never learned the prediction's occupancy misses parts: lamps and donuts stalled below
    # 25 dB at margin 2 and reached it in 20-30 steps from a full grid (BENCHMARKS.md).
    grid_margin: int = -1
    check_every: int = 5  # steps between PSNR checks (studio only)
    check_resolution: int = EVAL_RESOLUTION
