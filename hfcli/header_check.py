"""One validation pass over a checkpoint before anything is built from it.

A checkpoint's header is data from a file: its types, keys and ranges are checked here, and so
is the memory its config implies (a 1 KB header can ask for a tri-plane of many gigabytes),
against MAX_MODEL_BYTES (or $HFCLI_MAX_MODEL_BYTES). Then, once the tensors are read, their
dtypes and the shapes the config implies. Every failure is one CheckpointError line.
"""

from __future__ import annotations

import dataclasses
import math
import os

from .config import MAX_MESH_SMOOTH_VOXELS, FieldConfig, HyperConfig
from .errors import CheckpointError

MAX_MODEL_BYTES = 4 << 30  # model tensors a config may imply (the bundled model needs ~10 MB)
LIMIT_ENV = "HFCLI_MAX_MODEL_BYTES"
REQUIRED = {"kind": str, "format_version": int, "config": dict, "prompts": list, "text_encoder": str, "step": int}
OPTIONAL = {"metrics": dict, "extra": dict, "hfcli_version": str}
MIN_ZERO = {"n_hidden"}  # int settings that may be 0; every other one must be at least 1
POSITIVE = {"sigma_max", "sdf_beta"}  # float settings that must be > 0
BOUNDED = {"mesh_smooth_voxels": (0.0, MAX_MESH_SMOOTH_VOXELS[0])}  # float settings within [low, high]
FLOAT_TENSORS = ("model.", "encoding.", "mlp.", "log_beta", "grid.", "optim.")


def check_header(header: object, where: str) -> dict:
    """The header, when every part of it has the type, keys and range this hfcli reads."""
    if not isinstance(header, dict):
        _fail(where, f"its header is a JSON {type(header).__name__}, not an object")
    for key in REQUIRED:
        if key not in header:
            _fail(where, f"its header lacks {key!r}")
    for key, want in {**REQUIRED, **OPTIONAL}.items():
        if key in header and not _is(header[key], want):
            _fail(where, f"header {key!r} should be {_name(want)}, not {_show(header[key])}")
    if not all(isinstance(p, str) for p in header["prompts"]):
        _fail(where, "header 'prompts' should be a list of strings")
    if header["step"] < 0:
        _fail(where, f"header 'step' is negative ({header['step']})")
    for key in ("adam_step", "rollbacks"):  # read back by --resume
        value = header.get("extra", {}).get(key, 0)
        if not _is(value, int) or value < 0:
            _fail(where, f"header extra {key!r} should be a count, not {_show(value)}")
    return header


def check_config(config: dict, kind: str, where: str) -> tuple[FieldConfig, HyperConfig | None]:
    """The field (and, but for a baked NeRF, hypernetwork) configs, checked; then the memory they imply."""
    field = _section(config, "field", FieldConfig, where)
    hyper = None if kind == "nerf" else _section(config, "hyper", HyperConfig, where)
    if hyper is not None and hyper.d_model % hyper.n_heads:
        _fail(where, f"config hyper d_model {hyper.d_model} is not a multiple of n_heads {hyper.n_heads}")
    limit = _limit()
    need = 4 * implied_floats(field, hyper)
    if need > limit:
        _fail(
            where,
            f"its config implies {need / 2**30:.1f} GiB of model tensors, over the limit of "
            f"{limit / 2**30:.1f} GiB (${LIMIT_ENV} sets it)",
        )
    return field, hyper


def implied_floats(field: FieldConfig, hyper: HyperConfig | None) -> int:
    """float32 values the model built from these configs holds (parameters, probe activations)."""
    shapes = field.layer_shapes()
    n = 3 * field.plane_features * field.plane_res**2 + field.grid_features * field.grid_res**3
    n += sum(out * (n_in + 1) for out, n_in in shapes)
    if hyper is None:
        return n
    d = hyper.d_model
    n += hyper.text_dim * d + d + hyper.max_tokens * d + hyper.n_layers * (8 * d * d + 10 * d) + 2 * d
    for out, n_in in shapes:
        cond = d + (n_in if hyper.dynamic else 0)
        n += cond * hyper.head_hidden + hyper.head_hidden * (out * (n_in + 2) + 1) + out * (n_in + 1)
    return n + hyper.n_probe * (3 + sum(n_in for _, n_in in shapes))


def check_tensors(header: dict, tensors: dict, where: str) -> None:
    """Dtypes, and the shapes a baked NeRF's config implies (a HyperNet's are checked on loading)."""
    import torch

    from .scene import GRID_RES

    for name, tensor in tensors.items():
        if name.startswith(FLOAT_TENSORS) and not tensor.is_floating_point():
            _fail(where, f"tensor {name} holds {str(tensor.dtype).replace('torch.', '')}, not floats")
    rng = tensors.get("trainer.rng")
    if rng is not None and (rng.dtype != torch.uint8 or rng.shape != torch.Generator().get_state().shape):
        _fail(where, "tensor trainer.rng is not a random-generator state")
    ema = tensors.get("grid.ema")
    if ema is not None and (ema.ndim != 4 or tuple(ema.shape[1:]) != (GRID_RES,) * 3):
        _fail(where, f"tensor grid.ema has shape {list(ema.shape)}, not [scenes, {GRID_RES}, {GRID_RES}, {GRID_RES}]")
    field = FieldConfig(**header["config"]["field"])
    prefix = "encoding." if header["kind"] == "nerf" else "model.field.encoding."
    encoding = {  # the large shared tensors: checked here, before a Field of the config's size is made
        "planes": (3, field.plane_features, field.plane_res, field.plane_res),
        "grid": (1, field.grid_features, *(field.grid_res,) * 3),
    }
    for key, want in encoding.items():
        got = tensors.get(prefix + key)
        if got is not None and tuple(got.shape) != want:
            _fail(where, f"tensor {prefix + key} has shape {list(got.shape)}; its config needs {list(want)}")
    if header["kind"] != "nerf":
        return
    if ema is not None and ema.shape[0] != 1:
        _fail(where, f"a baked NeRF's grid.ema holds {ema.shape[0]} scenes, not 1")
    for i, (out, n_in) in enumerate(field.layer_shapes()):
        for key, want in ((f"mlp.{i}.weight", (out, n_in)), (f"mlp.{i}.bias", (out,))):
            if key not in tensors:
                _fail(where, f"baked NeRF lacks tensor {key}")
            if tuple(tensors[key].shape) != want:
                _fail(where, f"tensor {key} has shape {list(tensors[key].shape)}; its config needs {list(want)}")


def _section(config: dict, name: str, cls: type, where: str):
    section = config.get(name)
    if not isinstance(section, dict):
        _fail(where, f"config {name!r} is missing" if section is None else f"config {name!r} is not an object")
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    for key, value in section.items():
        if key not in defaults:
            _fail(where, f"config {name} has a setting this hfcli does not know: {key!r}")
        want = type(defaults[key])
        if not _is(value, want):
            _fail(where, f"config {name} {key} should be {_name(want)}, not {_show(value)}")
        if want is int and value < (0 if key in MIN_ZERO else 1):
            _fail(where, f"config {name} {key} is out of range ({value})")
        if key in POSITIVE and value <= 0:
            _fail(where, f"config {name} {key} should be positive, not {value}")
        if key in BOUNDED and not BOUNDED[key][0] <= value <= BOUNDED[key][1]:
            _fail(where, f"config {name} {key} should be from {BOUNDED[key][0]:g} to {BOUNDED[key][1]:g}, not {value}")
    return cls(**section)


def _is(value: object, want: type) -> bool:
    if want is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if want is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return isinstance(value, want)


def _name(want: type) -> str:
    return {int: "an integer", float: "a finite number", str: "a string", bool: "true or false"}.get(
        want, f"a JSON {'object' if want is dict else 'list'}"
    )


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _limit() -> int:
    raw = os.environ.get(LIMIT_ENV)
    if raw is None:
        return MAX_MODEL_BYTES
    try:
        return int(float(raw))
    except ValueError:
        raise CheckpointError(f"${LIMIT_ENV} should be a number of bytes, not {raw!r}") from None


def _fail(where: str, message: str):
    raise CheckpointError(f"{where}: {message}")
