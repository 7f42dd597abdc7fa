"""Models that render: a HyperNet over prompts (teacher/student) and a baked NeRF.

Both turn into `NerfScene`s — the shared encoding, one prompt's MLP weights and an occupancy
grid — which is all the renderer, the exporter and finetuning need.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import __version__
from . import checkpoint as ckpt_io
from .config import FIELD_KINDS, FieldConfig, HyperConfig
from .device import as_device
from .errors import CheckpointError, HfcliError
from .field import Field, MLPWeights
from .hyper import HyperNet
from .render.occupancy import OccupancyGrid
from .scene import new_grid
from .text import TextEncoder, TokenStates


@dataclass
class NerfScene:
    """One NeRF: query(points [N, 3]) → sigma [N], albedo [N, 3]."""

    field: Field
    weights: MLPWeights
    grid: OccupancyGrid  # one scene
    prompt: str

    def query(self, points: torch.Tensor, scene: int = 0):
        return self.field.query(points, self.weights)

    def density(self, points: torch.Tensor) -> torch.Tensor:
        return self.field.query(points, self.weights)[0]

    def albedo(self, points: torch.Tensor) -> torch.Tensor:
        return self.field.query(points, self.weights)[1]

    def signed_distance(self, points: torch.Tensor) -> torch.Tensor:
        """Of an sdf field: negative inside."""
        return self.field.signed_distance(points, self.weights)

    @property
    def device(self) -> torch.device:
        """Where the scene's weights and grid live: points to query go there."""
        return self.grid.ema.device


def fresh_grid(density_fn, n_scenes: int = 1, passes: int = 1, device: torch.device | None = None) -> OccupancyGrid:
    """A grid on `device` built from scratch: each cell sampled `passes` times, then dilated by
    one cell, because one random sample can miss a thin boundary passing through a cell."""
    grid = new_grid(n_scenes, device=device)
    gen = torch.Generator().manual_seed(0)  # on the CPU: the same cells on every device
    for _ in range(passes):
        grid.update(density_fn, gen)
    grid.dilate()
    return grid


def field_config(config: dict, written_by: str = __version__) -> FieldConfig:
    """A checkpoint's field config, refused in one line when its kind is one this hfcli does not know."""
    kind = config["field"].get("kind", "density")
    if kind not in FIELD_KINDS:
        raise CheckpointError(
            f"the checkpoint holds a field of kind {kind!r}, written by hfcli {written_by}; this hfcli "
            f"({__version__}) knows {', '.join(FIELD_KINDS)}: upgrade hfcli to read it"
        )
    return FieldConfig(**config["field"])


def hyper_from_config(config: dict, written_by: str = __version__) -> HyperNet:
    return HyperNet(field_config(config, written_by), HyperConfig(**config["hyper"]))


def model_state(hyper: HyperNet) -> dict[str, torch.Tensor]:
    return {f"model.{k}": v for k, v in hyper.state_dict().items()}


def load_model_state(hyper: HyperNet, tensors: dict[str, torch.Tensor]) -> None:
    state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        hyper.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"checkpoint tensors do not match its config: {str(err).splitlines()[0]}") from None


class PromptModel:
    """A trained HyperNet (teacher or student) with its text encoder, ready to bake prompts; the
    scenes it bakes live where the HyperNet does."""

    def __init__(self, hyper: HyperNet, encoder_id: str, prompts: list[str], encoder: TextEncoder | None = None):
        self.hyper = hyper.eval()
        self.encoder_id = encoder_id
        self.prompts = prompts
        self._encoder = encoder

    @classmethod
    def from_checkpoint(
        cls, ck: ckpt_io.Checkpoint, encoder: TextEncoder | None = None, device: torch.device | str | None = None
    ) -> PromptModel:
        """`encoder`, when given, is shared (it must be the checkpoint's text encoder, on `device`)."""
        hyper = hyper_from_config(ck.config, ck.written_by)
        load_model_state(hyper, ck.tensors)  # built and loaded on the CPU, then moved: same weights
        return cls(hyper.to(as_device(device)), ck.text_encoder, ck.prompts, encoder)

    @property
    def device(self) -> torch.device:
        return self.hyper.probe.device

    @property
    def encoder(self) -> TextEncoder:
        if self._encoder is None:
            self._encoder = TextEncoder(self.encoder_id, self.device)
        return self._encoder

    def bake(self, prompts: list[str]) -> list[NerfScene]:
        tokens = self.encoder.encode(prompts)
        return [self._scene(w, p) for w, p in zip(self.hyper.bake(tokens), prompts)]

    def bake_tokens(self, tokens: TokenStates, prompts: list[str]) -> list[NerfScene]:
        return [self._scene(w, p) for w, p in zip(self.hyper.bake(tokens), prompts)]

    @torch.no_grad()
    def interpolate(self, prompt_a: str, prompt_b: str, ts: list[float]) -> list[NerfScene]:
        """NeRFs along the straight line between two prompts' scene codes, at each t in `ts`."""
        z = self.hyper.scene_code(self.encoder.encode([prompt_a, prompt_b]))
        codes = torch.stack([(1 - t) * z[0] + t * z[1] for t in ts])
        return [self._scene(w, f"{prompt_a} → {prompt_b} @ {t:.3f}") for w, t in zip(self.hyper.bake_codes(codes), ts)]

    def _scene(self, weights: MLPWeights, prompt: str) -> NerfScene:
        field = self.hyper.field
        with torch.no_grad():
            grid = fresh_grid(lambda pts, _s: field.query(pts, weights)[0], device=self.device)
        return NerfScene(field, weights, grid, prompt)


def nerf_tensors(scene: NerfScene) -> dict[str, torch.Tensor]:
    tensors = dict(scene.field.state_dict())  # encoding.*, and an sdf field's log_beta
    for i, (w, b) in enumerate(scene.weights):
        tensors[f"mlp.{i}.weight"], tensors[f"mlp.{i}.bias"] = w, b
    tensors.update(scene.grid.state())
    return tensors


def nerf_checkpoint(scene: NerfScene, text_encoder: str, extra: dict | None = None) -> ckpt_io.Checkpoint:
    return ckpt_io.Checkpoint(
        kind="nerf",
        tensors=nerf_tensors(scene),
        config={"field": scene.field.cfg.to_dict()},
        prompts=[scene.prompt],
        text_encoder=text_encoder,
        extra=extra or {},
    )


def scene_from_nerf(ck: ckpt_io.Checkpoint, device: torch.device | str | None = None) -> NerfScene:
    """A baked NeRF checkpoint (tensors on the CPU) → a scene on `device`."""
    device = as_device(device)
    try:
        cfg = field_config(ck.config, ck.written_by)
        field = Field(cfg)
        field.load_state_dict({k: v for k, v in ck.tensors.items() if k.startswith("encoding.") or k == "log_beta"})
        field.to(device)
        n_layers = len(cfg.layer_shapes())
        weights = [
            (ck.tensors[f"mlp.{i}.weight"].to(device), ck.tensors[f"mlp.{i}.bias"].to(device)) for i in range(n_layers)
        ]
        grid = new_grid(device=device)
        grid.load_state(ck.tensors)
    except (KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"baked NeRF is incomplete or inconsistent: {str(err).splitlines()[0]}") from None
    return NerfScene(field, weights, grid, ck.prompts[0] if ck.prompts else "")


def load_scene(path: str, prompt: str | None, device: torch.device | str | None = None) -> tuple[NerfScene, str]:
    """Any checkpoint → (one NerfScene on `device`, its text encoder id): a baked NeRF as is, a
    teacher or student baked at `prompt`."""
    ck = ckpt_io.load(path)
    if ck.kind == "nerf":
        return scene_from_nerf(ck, device), ck.text_encoder
    if prompt is None:
        raise HfcliError(f"{path} is a {ck.kind}: give --prompt to choose what it renders")
    return PromptModel.from_checkpoint(ck, device=device).bake([prompt])[0], ck.text_encoder
