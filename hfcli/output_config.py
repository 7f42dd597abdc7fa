"""The configs of what a scene turns into: mesh files (generate, export, interpolate), renders and
studio datasets. Like hfcli/config.py, which holds the option machinery and the training
configs: no torch, so `hf --help` starts fast."""

from __future__ import annotations

from dataclasses import dataclass

from .config import (
    MAX_FRAMES,
    MAX_IMAGE_PIXELS,
    MAX_IMAGE_SIZE,
    MAX_MESH_RESOLUTION,
    MAX_MESH_SMOOTH_VOXELS,
    Config,
    option,
    validate,
)
from .errors import HfcliError

MESH_FORMATS = ("glb", "obj", "ply")
MIN_FACES = 500  # below this a studio object is no longer recognisable
# The textured default: on three held-out prompts its mesh scores within 0.11 dB of 20,000
# triangles and up to 0.5 dB over 2,000 at the eval cameras, while unwrapping 20,000 takes 2.5
# times as long (BENCHMARKS.md, "Textured meshes").
TEXTURED_FACES = 10_000
MIN_TEXTURE_SIZE, MAX_TEXTURE_SIZE = 64, 8192


@dataclass
class MeshConfig(Config):
    """A mesh file from a NeRF (generate, export, and each frame of interpolate)."""

    resolution: int = option(128, "Marching-cubes grid resolution per axis.", min=16, max=MAX_MESH_RESOLUTION)
    smooth: float | None = option(
        None,
        "Gaussian blur of the sampled field before marching cubes, in lattice voxels (0: none): more hides a "
        "noisy field's bumps, less keeps edges sharp. Default: the model's own (0.5 for the bundled default, "
        "1 for models trained with hf teach or hf distill).",
        min=0,
        max=MAX_MESH_SMOOTH_VOXELS,
    )
    faces: int | None = option(
        None,
        f"Triangle budget: quadric decimation to at most this many (default {TEXTURED_FACES} for a textured mesh; "
        "with --vertex-colors or .ply every marching-cubes triangle is kept unless this is given).",
        min=MIN_FACES,
    )
    texture_size: int = option(
        1024,
        f"Width and height of the baked colour texture: a power of two up to {MAX_TEXTURE_SIZE}.",
        min=MIN_TEXTURE_SIZE,
    )
    vertex_colors: bool = option(
        False, "Colour on the vertices instead of a texture (no UV unwrap, no bake).", flag="--vertex-colors"
    )
    format: str | None = option(
        None,
        "glb (textured PBR), obj (+ .mtl + .png) or ply (vertex colours); default: --out's suffix, else glb.",
        choices=MESH_FORMATS,
    )


def check_mesh_config(cfg: MeshConfig) -> MeshConfig:
    """validate(cfg) and what a bound cannot say: the texture's size is a power of two."""
    validate(cfg)
    size = cfg.texture_size
    if size > MAX_TEXTURE_SIZE or size & (size - 1):
        raise HfcliError(
            f"--texture-size must be a power of two from {MIN_TEXTURE_SIZE} to {MAX_TEXTURE_SIZE} (got {size})"
        )
    return cfg


@dataclass
class ExportConfig(MeshConfig):
    threshold: float | None = option(None, "Mesh this density level as it is (default: the field's rendered surface).")


@dataclass
class InterpolateConfig(MeshConfig):
    resolution: int = option(64, "Marching-cubes resolution of each frame.", min=16, max=MAX_MESH_RESOLUTION)
    frames: int = option(8, "Number of frames, both ends included.", min=2, max=MAX_FRAMES)
    turntable: bool = option(False, "Turn the camera while morphing.", flag="--turntable")


class _Images:
    """views × resolution² pixels are held until the file is written: bounded together."""

    def check(self) -> None:
        pixels = self.views * self.resolution**2
        if pixels > MAX_IMAGE_PIXELS:
            raise HfcliError(
                f"--views × --resolution² must be at most {MAX_IMAGE_PIXELS:,} pixels (got {pixels:,}): about 70 "
                "bytes a pixel are held until the file is written; fewer views or smaller images"
            )


@dataclass
class RenderConfig(Config, _Images):
    resolution: int = option(256, "Image width and height in pixels.", min=8, max=MAX_IMAGE_SIZE)
    views: int = option(1, "Number of views around the object.", min=1)


@dataclass
class StudioConfig(Config, _Images):
    views: int = option(24, "Views per prompt.", min=1)
    resolution: int = option(128, "Image width and height in pixels.", min=8, max=MAX_IMAGE_SIZE)
