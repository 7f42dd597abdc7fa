"""Checkpoints: safetensors tensors + one JSON header in the metadata. No pickle, ever.

Kinds: `teacher` and `student` (a HyperNet over prompts, with optimiser state for --resume)
and `nerf` (one baked NeRF: the shared encoding plus one prompt's MLP weights). `pack` turns
a student into the bundled default model (hfcli/bundled.py says where that one lives).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import __version__
from .bundled import resolve_model
from .errors import CheckpointError
from .fsutil import atomic_path
from .header_check import check_config, check_header, check_tensors

FORMAT_VERSION = 1
KINDS = ("teacher", "student", "nerf")
META_KEY = "hfcli"


@dataclass
class Checkpoint:
    kind: str
    tensors: dict[str, torch.Tensor]
    config: dict
    prompts: list[str]
    text_encoder: str
    step: int = 0
    metrics: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    written_by: str = __version__  # the hfcli that wrote it (read back from the header)

    def header(self) -> dict:
        return {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "hfcli_version": __version__,
            "config": self.config,
            "prompts": self.prompts,
            "text_encoder": self.text_encoder,
            "step": self.step,
            "metrics": self.metrics,
            "extra": self.extra,
        }


def save(ckpt: Checkpoint, path: str | os.PathLike) -> Path:
    """Write atomically: the file at `path` is either the old one or the complete new one."""
    from safetensors.torch import save_file

    if ckpt.kind not in KINDS:
        raise ValueError(f"unknown checkpoint kind {ckpt.kind!r}")
    tensors = {k: v.detach().cpu().contiguous() for k, v in ckpt.tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: json.dumps(ckpt.header())})
    return Path(path)


def read_header(path: str | os.PathLike) -> dict:
    """The JSON header alone (cheap: no tensor is read)."""
    from safetensors import safe_open

    path = resolve_model(path)
    if path.is_dir():
        raise CheckpointError(f"{path} is a directory, not a checkpoint file")
    if path.exists() and not path.is_file():  # a FIFO or a device: opening it could block forever
        raise CheckpointError(f"{path} is not a regular file, so not a checkpoint")
    if not path.is_file():
        raise CheckpointError(f"no such checkpoint: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as err:  # safetensors raises several types for damaged files
        raise CheckpointError(f"{path} is not a valid safetensors file ({_short(err)})") from None
    if META_KEY not in meta:
        raise CheckpointError(f"{path} is a safetensors file but not an hfcli checkpoint (no '{META_KEY}' metadata)")
    try:
        header = json.loads(meta[META_KEY])
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: checkpoint header is not valid JSON") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: checkpoint header is not a JSON object")
    if header.get("format_version") != FORMAT_VERSION or header.get("kind") not in KINDS:
        raise CheckpointError(
            f"{path}: unsupported checkpoint (kind {_shown(header.get('kind'))}, "
            f"version {_shown(header.get('format_version'))})"
        )
    # Every type, key and range, and the memory the config implies, before anything is built.
    check_header(header, str(path))
    check_config(header["config"], header["kind"], str(path))
    return header


def load(path: str | os.PathLike, kinds: tuple[str, ...] = KINDS) -> Checkpoint:
    """Read a checkpoint and check its kind is one of `kinds`."""
    from safetensors.torch import load_file

    path = resolve_model(path)
    header = read_header(path)
    if header["kind"] not in kinds:
        raise CheckpointError(f"{path} is a {header['kind']} checkpoint; expected {' or '.join(kinds)}")
    try:
        tensors = load_file(str(path))
    except Exception as err:
        raise CheckpointError(f"{path} is damaged ({_short(err)})") from None
    check_tensors(header, tensors, str(path))
    return Checkpoint(
        kind=header["kind"],
        tensors=tensors,
        config=header["config"],
        prompts=list(header["prompts"]),
        text_encoder=header["text_encoder"],
        step=int(header["step"]),
        metrics=header.get("metrics", {}),
        extra=header.get("extra", {}),
        written_by=str(header.get("hfcli_version", "0.1.0 or older")),
    )


def pack(ck: Checkpoint, extra: dict) -> Checkpoint:
    """A student checkpoint → the same model without training state (optimiser, RNG, the
    per-prompt occupancy grids), weights stored as float16: a few MB instead of tens. This is
    how the bundled default model is made (benchmarks/bundle_default.py); `extra` (commands,
    data split, figures) goes into the header under "bundle"."""
    if ck.kind != "student":
        raise CheckpointError(f"only a student is bundled as the default model, not a {ck.kind}")
    tensors = {
        k: v.to(torch.float16) if v.is_floating_point() else v for k, v in ck.tensors.items() if k.startswith("model.")
    }
    return Checkpoint(
        kind="student",
        tensors=tensors,
        config=ck.config,
        prompts=ck.prompts,
        text_encoder=ck.text_encoder,
        step=ck.step,
        metrics=ck.metrics,
        extra={"bundle": extra},
    )


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _short(err: Exception) -> str:
    return str(err).splitlines()[0][:200] if str(err) else type(err).__name__
