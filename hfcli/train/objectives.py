"""What the training loop optimises: a HyperNet over many prompts (teach, distill) or one baked
NeRF (finetune). Both render a guidance's ray batch through the shared renderer and take the
guidance's loss on it; they differ in their parameters and in how a scene's weights are made."""

from __future__ import annotations

import copy

import torch

from ..config import LoopConfig
from ..device import rand
from ..field import Field, MLPWeights
from ..guidance.base import Guidance
from ..hyper import HyperNet, select_prompt
from ..metrics import TETRA, tetra_probes
from ..model import NerfScene, load_model_state, model_state
from ..render.occupancy import OccupancyGrid
from ..render.renderer import render_rays
from ..scene import box_tensor, new_grid
from ..text import TokenStates

# The surface terms' finite-difference step: about a tri-plane texel, so the gradient is the
# field's as the encoding resolves it.
EIKONAL_STEP = 0.02
SMOOTH_BAND = 0.05  # normal smoothness counts within about this distance of the zero level


def _gradients(field: Field, weights: MLPWeights, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(sdf [N], its gradient [N, 3]) by finite differences: four queries a point and no second
    derivative of the encoding (Neuralangelo's numerical gradient)."""
    sdf = field.signed_distance(tetra_probes(points, EIKONAL_STEP).reshape(-1, 3), weights).reshape(-1, 4)
    return sdf.mean(dim=1), sdf @ TETRA.to(sdf.device) / (4 * EIKONAL_STEP)


def surface_terms(field: Field, weights: MLPWeights, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(eikonal, smoothness) of an sdf field at random points of the box: the mean of
    (|grad sdf| - 1)^2, and near the zero level the mean squared difference between the unit
    normal at a point and at a point a step away (bumps the eikonal term cannot see). Uniform
    points, not points about the rendered surface: those cost a bowl teacher 4.5 dB (likely as the eikonal
    term there flattens the steep gradient that sharpens its boundary; BENCHMARKS.md)."""
    n = field.cfg.eikonal_points
    device = field.encoding.planes.device
    lo, hi = box_tensor(device)[:3] + 2 * EIKONAL_STEP, box_tensor(device)[3:] - 2 * EIKONAL_STEP
    points = lo + (hi - lo) * rand((n, 3), generator, device)
    step = EIKONAL_STEP * torch.nn.functional.normalize(torch.randn(n, 3, generator=generator).to(device), dim=-1)
    sdf, gradient = _gradients(field, weights, torch.cat([points, points + step]))
    eikonal = ((gradient.norm(dim=-1) - 1.0) ** 2).mean()
    normals = torch.nn.functional.normalize(gradient, dim=-1)
    near = torch.exp(-sdf[:n].detach().abs() / SMOOTH_BAND)
    smoothness = (near * ((normals[:n] - normals[n:]) ** 2).sum(dim=-1)).mean()
    return eikonal, smoothness


def _with_surface_terms(loss: torch.Tensor, figures: dict, field: Field, terms: list[tuple]) -> torch.Tensor:
    """loss + the field's weighted surface terms, averaged over scenes (sdf fields; else loss)."""
    if not terms:
        return loss
    eikonal, smoothness = (torch.stack(t).mean() for t in zip(*terms))
    figures.update(eikonal=float(eikonal.detach()), smoothness=float(smoothness.detach()))
    return loss + field.cfg.eikonal_weight * eikonal + field.cfg.smoothness_weight * smoothness


def _groups(cfg: LoopConfig, weights: list[torch.Tensor], encoding: list[torch.Tensor]) -> list[dict]:
    """The text-dependent weights at cfg.lr; the shared encoding faster (eps as in Instant-NGP)."""
    return [{"params": weights, "lr": cfg.lr}, {"params": encoding, "lr": cfg.lr * cfg.encoding_lr_scale, "eps": 1e-15}]


class HyperObjective:
    """A HyperNet over prompts against a guidance: each step renders `prompts_per_step` of them."""

    def __init__(
        self,
        hyper: HyperNet,
        tokens: TokenStates,
        guidance: Guidance,
        prompts_per_step: int,
        reworded: TokenStates | None = None,
        reword: float = 0.0,
    ):
        """tokens: the prompts [P]; reworded: [K * P] the same prompts in K other wordings (row
        k * P + i is prompt i's k-th), each scene read in one of them with probability `reword`."""
        self.hyper, self.tokens, self.guidance = hyper, tokens, guidance
        self.prompts_per_step = prompts_per_step
        self.reworded, self.reword = reworded, reword if reworded is not None else 0.0
        self.grid = new_grid(tokens.states.shape[0], device=hyper.probe.device)
        self.loss_tracks_quality = getattr(guidance, "loss_tracks_quality", True)

    @property
    def n_prompts(self) -> int:
        return self.tokens.states.shape[0]

    def param_groups(self, cfg: LoopConfig) -> list[dict]:
        encoding = list(self.hyper.field.parameters())  # the shared encoding (and an sdf's softness)
        ids = {id(p) for p in encoding}
        return _groups(cfg, [p for p in self.hyper.parameters() if id(p) not in ids], encoding)

    def parameters(self) -> list[torch.Tensor]:
        return list(self.hyper.parameters())

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {**model_state(self.hyper), **self.grid.state()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        load_model_state(self.hyper, tensors)
        self.grid.load_state(tensors)

    def _scenes_this_step(self, generator: torch.Generator) -> list[int]:
        n = self.n_prompts
        if n <= self.prompts_per_step:
            return list(range(n))
        return sorted(torch.randperm(n, generator=generator)[: self.prompts_per_step].tolist())

    def grid_scenes(self, update: int) -> list[int]:
        """Scenes the `update`-th grid update refreshes: all of a small set, else the next
        prompts_per_step of them in turn (a 50-prompt student would otherwise spend most of its
        time here). A function of the update's number, so resuming keeps the rotation."""
        n, k = self.n_prompts, self.prompts_per_step
        if n <= k:
            return list(range(n))
        return sorted({(update * k + i) % n for i in range(k)})

    @torch.no_grad()
    def update_grid(self, update: int, generator: torch.Generator) -> None:
        scenes = self.grid_scenes(update)
        query = self._scene_query(scenes)
        self.grid.update(lambda pts, s: query(pts, s)[0], generator, scenes=scenes)

    def _scene_query(self, scenes: list[int], weights: MLPWeights | None = None):
        """query(points, scene) → (sigma, rgb) of the given scenes, their weights made once."""
        weights = self.hyper(self.tokens.select(scenes)) if weights is None else weights
        slot = {s: i for i, s in enumerate(scenes)}
        field = self.hyper.field
        return lambda pts, scene: field.query(pts, select_prompt(weights, slot[scene]))

    @staticmethod
    def _point_density(query, batch) -> torch.Tensor:
        """The model's density [Q] at the batch's points, each in its own scene's field."""
        ids, counts = torch.unique_consecutive(batch.point_ids, return_counts=True)
        parts = batch.points.split(counts.tolist())
        return torch.cat([query(p, s)[0] for p, s in zip(parts, ids.tolist())] or [batch.points.new_zeros(0)])

    def _wordings(self, scenes: list[int], generator: torch.Generator) -> TokenStates:
        """The token states a step reads its scenes in: each its own prompt, or with
        probability `reword` one of its other wordings (the target stays the prompt's scene)."""
        if not self.reword:
            return self.tokens.select(scenes)
        n, k = self.n_prompts, self.reworded.states.shape[0] // self.n_prompts
        use = (torch.rand(len(scenes), generator=generator) < self.reword).tolist()
        which = torch.randint(k, (len(scenes),), generator=generator).tolist()
        plain = self.tokens.select(scenes)
        other = self.reworded.select([w * n + s for s, w in zip(scenes, which)])
        pick = torch.tensor(use, device=plain.states.device)
        return TokenStates(
            torch.where(pick[:, None, None], other.states, plain.states),
            torch.where(pick[:, None], other.mask, plain.mask),
        )

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        scenes = self._scenes_this_step(generator)
        batch = self.guidance.sample(generator, scenes).to(self.grid.ema.device)
        weights = self.hyper(self._wordings(scenes, generator))
        query = self._scene_query(scenes, weights)
        out = render_rays(
            query,
            batch.rays_o,
            batch.rays_d,
            batch.scene_ids,
            self.grid,
            batch.background,
            generator=generator,
        )
        loss, figures = self.guidance.loss(out, batch)
        figures["samples"] = out.n_samples
        if batch.points is not None:
            point_loss = self.guidance.point_loss(self._point_density(query, batch), batch)
            figures["density_loss"] = float(point_loss.detach())
            loss = loss + point_loss
        field = self.hyper.field
        terms = (
            [surface_terms(field, select_prompt(weights, i), generator) for i in range(len(scenes))]
            if field.cfg.kind == "sdf"
            else []
        )
        return _with_surface_terms(loss, figures, field, terms), figures


class NerfObjective:
    """One NeRF's encoding and MLP, made trainable from a baked scene (copied: a baked scene
    shares its model's encoding)."""

    def __init__(self, scene: NerfScene, guidance: Guidance, grid: OccupancyGrid):
        self.guidance, self.grid, self.prompt = guidance, grid, scene.prompt
        self.field = copy.deepcopy(scene.field)
        self.weights = [
            (w.detach().clone().requires_grad_(True), b.detach().clone().requires_grad_(True)) for w, b in scene.weights
        ]
        self.loss_tracks_quality = getattr(guidance, "loss_tracks_quality", True)

    def _mlp(self) -> list[torch.Tensor]:
        return [t for pair in self.weights for t in pair]

    def param_groups(self, cfg: LoopConfig) -> list[dict]:
        return _groups(cfg, self._mlp(), list(self.field.parameters()))  # encoding (and an sdf's softness)

    def parameters(self) -> list[torch.Tensor]:
        return self._mlp() + list(self.field.parameters())

    def state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = {f"param.{i}": p for i, p in enumerate(self.parameters())}
        return {**tensors, **self.grid.state()}

    @torch.no_grad()
    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        for i, p in enumerate(self.parameters()):
            p.copy_(tensors[f"param.{i}"])
        self.grid.load_state(tensors)

    def query(self, points: torch.Tensor, _scene: int = 0):
        return self.field.query(points, self.weights)

    @torch.no_grad()
    def update_grid(self, update: int, generator: torch.Generator) -> None:
        self.grid.update(lambda pts, _s: self.query(pts)[0], generator)

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        batch = self.guidance.sample(generator, [0]).to(self.grid.ema.device)
        out = render_rays(
            self.query, batch.rays_o, batch.rays_d, batch.scene_ids, self.grid, batch.background, generator=generator
        )
        loss, figures = self.guidance.loss(out, batch)
        figures["samples"] = out.n_samples
        terms = [surface_terms(self.field, self.weights, generator)] if self.field.cfg.kind == "sdf" else []
        return _with_surface_terms(loss, figures, self.field, terms), figures

    def scene(self) -> NerfScene:
        return NerfScene(self.field, [(w.detach(), b.detach()) for w, b in self.weights], self.grid, self.prompt)
