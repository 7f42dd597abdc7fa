"""PNG and GIF files: the one place hfcli writes and reads images. Writes are atomic."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Union

import numpy as np
from PIL import Image

from .errors import HfcliError
from .fsutil import atomic_path

# A [H, W, C] float image in [0, 1], as a numpy array or a torch tensor (any device).
ImageLike = Union[np.ndarray, "torch.Tensor"]  # noqa: F821 - torch stays an optional import here


def _to_uint8(image: ImageLike) -> np.ndarray:
    """[H, W, 3|4] float in [0, 1] → [H, W, 3|4] uint8 (clamped, rounded; NaN → 0)."""
    if hasattr(image, "detach"):
        image = image.detach().float().cpu().numpy()
    a = np.asarray(image, dtype=np.float32)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise HfcliError(f"expected an image of shape [H, W, 3] or [H, W, 4], got {list(a.shape)}")
    return np.round(np.clip(np.nan_to_num(a), 0.0, 1.0) * 255.0).astype(np.uint8)


def save_png(image: ImageLike, path: str | os.PathLike) -> None:
    """Write image [H, W, 3] (RGB) or [H, W, 4] (RGBA), floats in [0, 1], as a PNG."""
    pixels = _to_uint8(image)
    with atomic_path(path) as tmp:
        # format= explicitly: the temporary name ends in ".tmp.png", not to be trusted.
        Image.fromarray(pixels).save(tmp, format="PNG")


def save_gif(frames: Sequence[ImageLike], path: str | os.PathLike, fps: float = 12) -> None:
    """Write frames (each [H, W, 3] in [0, 1]) as a GIF that loops forever at `fps`."""
    if len(frames) == 0:
        raise HfcliError("no frames to write")
    images = [Image.fromarray(_to_uint8(f)[..., :3]) for f in frames]
    with atomic_path(path) as tmp:
        # loop=0 means forever; GIF delays are stored in centiseconds, so round to 10 ms.
        images[0].save(
            tmp,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            loop=0,
            duration=max(20, int(round(100.0 / fps)) * 10),
            disposal=2,
        )


def save_image(frames_or_image: ImageLike | Sequence[ImageLike], path: str | os.PathLike) -> None:
    """Write one image or a list of frames, chosen by suffix: .png (one frame as is, several as
    a horizontal strip [H, W·N, C]) or .gif (an animation)."""
    if isinstance(frames_or_image, (list, tuple)):
        frames = list(frames_or_image)
    else:
        frames = [frames_or_image]
    suffix = Path(path).suffix.lower()
    if suffix == ".png":
        if len(frames) == 0:
            raise HfcliError("no frames to write")
        strip = np.concatenate([_to_uint8(f) for f in frames], axis=1) / 255.0
        save_png(strip, path)
    elif suffix == ".gif":
        save_gif(frames, path)
    else:
        raise HfcliError(f"unsupported image format {suffix or '(no suffix)'} for {path}; use .png or .gif")


def load_png(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as [H, W, 3] float32 in [0, 1] (alpha composited on white)."""
    try:
        with Image.open(path) as im:
            im = im.convert("RGBA")
            rgba = np.asarray(im, dtype=np.float32) / 255.0
    except (OSError, ValueError) as e:
        raise HfcliError(f"cannot read image {path}: {e}") from e
    # White background, the same as the studio renders.
    return (rgba[..., :3] * rgba[..., 3:] + (1.0 - rgba[..., 3:])).astype(np.float32)
