"""Trainer: optimise a HyperNet against a Guidance, with checkpoints, resume and collapse guard.

The core never prints: progress goes to a callback `on_progress(step, total, figures)`.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from .. import checkpoint as ckpt_io
from ..defaults import TEACH_STEPS
from ..errors import CheckpointError, HfcliError
from ..guidance.base import Guidance
from ..hyper import HyperNet, select_prompt
from ..model import load_model_state, model_state
from ..render.occupancy import OccupancyGrid
from ..render.renderer import AABB, GRID_RES, RENDER_STEP, render_rays
from ..text import TokenStates

Progress = Callable[[int, int, dict], None]


@dataclass
class TrainConfig:
    steps: int = TEACH_STEPS
    lr: float = 2e-3  # hypernetwork (transformer, heads, base matrices)
    lr_encoding: float = 2e-2  # shared tri-plane/grid features learn faster, as in Instant-NGP
    lr_final_fraction: float = 0.1  # exponential decay to this fraction at the last step
    prompts_per_step: int = 8
    grid_every: int = 16
    grid_warmup: int = 32  # let densities form before empty space is culled
    save_every: int = 250
    snapshot_every: int = 50  # in-memory good state for collapse rollback
    clip_grad: float = 1.0
    collapse_factor: float = 5.0  # loss above this × its recent median counts as a collapse
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


class Trainer:
    def __init__(self, hyper: HyperNet, tokens: TokenStates, guidance: Guidance, cfg: TrainConfig):
        self.hyper, self.tokens, self.guidance, self.cfg = hyper, tokens, guidance, cfg
        n_prompts = tokens.states.shape[0]
        self.grid = OccupancyGrid(n_prompts, GRID_RES, AABB.clone(), RENDER_STEP)
        enc = list(hyper.field.encoding.parameters())
        enc_ids = {id(p) for p in enc}
        rest = [p for p in hyper.parameters() if id(p) not in enc_ids]
        self.opt = torch.optim.Adam(
            [{"params": rest, "lr": cfg.lr}, {"params": enc, "lr": cfg.lr_encoding, "eps": 1e-15}]
        )
        self.base_lrs = [cfg.lr, cfg.lr_encoding]
        self.gen = torch.Generator().manual_seed(cfg.seed)
        self.step = 0
        self.rollbacks = 0
        self.recent_losses: list[float] = []
        self._snapshot = None

    # ------------------------------------------------------------------ state
    def state_tensors(self) -> dict[str, torch.Tensor]:
        tensors = model_state(self.hyper)
        tensors.update(self.grid.state())
        tensors["trainer.rng"] = self.gen.get_state()
        for i, p in enumerate(self.hyper.parameters()):
            st = self.opt.state.get(p, {})
            for key in ("exp_avg", "exp_avg_sq"):
                if key in st:
                    tensors[f"optim.{i}.{key}"] = st[key]
        return tensors

    def optim_step_count(self) -> int:
        for st in self.opt.state.values():
            return int(st["step"])
        return 0

    def load_state(self, ck: ckpt_io.Checkpoint) -> None:
        load_model_state(self.hyper, ck.tensors)
        self.grid.load_state(ck.tensors)
        params = list(self.hyper.parameters())
        adam_step = int(ck.extra.get("adam_step", 0))
        for i, p in enumerate(params):
            if f"optim.{i}.exp_avg" in ck.tensors:
                self.opt.state[p] = {
                    "step": torch.tensor(float(adam_step)),
                    "exp_avg": ck.tensors[f"optim.{i}.exp_avg"].clone(),
                    "exp_avg_sq": ck.tensors[f"optim.{i}.exp_avg_sq"].clone(),
                }
        self.step = ck.step
        gen_state = ck.tensors.get("trainer.rng")
        if gen_state is not None:
            self.gen.set_state(gen_state.to(torch.uint8))

    def checkpoint_extra(self) -> dict:
        return {"adam_step": self.optim_step_count(), "train": self.cfg.to_dict(), "rollbacks": self.rollbacks}

    def _take_snapshot(self) -> None:
        self._snapshot = (
            copy.deepcopy(self.hyper.state_dict()),
            copy.deepcopy(self.opt.state_dict()),
            self.grid.ema.clone(),
        )

    def _rollback(self) -> None:
        if self._snapshot is None:
            raise HfcliError("training diverged before the first good state; try a lower --lr")
        model, opt, ema = self._snapshot
        self.hyper.load_state_dict(model)
        self.opt.load_state_dict(opt)
        self.grid.ema = ema.clone()
        self.grid.rethreshold()
        self.base_lrs = [lr * 0.5 for lr in self.base_lrs]
        self.rollbacks += 1
        self.recent_losses.clear()

    # ------------------------------------------------------------------ loop
    def _set_lr(self) -> None:
        frac = self.step / max(1, self.cfg.steps)
        decay = self.cfg.lr_final_fraction**frac
        for group, base in zip(self.opt.param_groups, self.base_lrs):
            group["lr"] = base * decay

    def _scenes_this_step(self) -> list[int]:
        n = self.tokens.states.shape[0]
        if n <= self.cfg.prompts_per_step:
            return list(range(n))
        return sorted(torch.randperm(n, generator=self.gen)[: self.cfg.prompts_per_step].tolist())

    def _grid_scenes(self) -> list[int]:
        """Scenes whose grid this update refreshes: all of a small set, else the next
        prompts_per_step of them in turn (a 50-prompt student would otherwise spend most of
        its time here). A function of the step, so resuming keeps the rotation."""
        n, k = self.tokens.states.shape[0], self.cfg.prompts_per_step
        if n <= k:
            return list(range(n))
        start = (self.step // self.cfg.grid_every) * k
        return sorted({(start + i) % n for i in range(k)})

    @torch.no_grad()
    def update_grid(self) -> None:
        scenes = self._grid_scenes()
        query = self._scene_query(scenes)
        self.grid.update(lambda pts, s: query(pts, s)[0], self.gen, scenes=scenes)

    def _scene_query(self, scenes: list[int]):
        """query(points, scene) → (sigma, rgb) of the given scenes, their weights made once."""
        weights = self.hyper(self.tokens.select(scenes))
        slot = {s: i for i, s in enumerate(scenes)}
        field = self.hyper.field
        return lambda pts, scene: field.query(pts, select_prompt(weights, slot[scene]))

    def train_step(self) -> dict:
        scenes = self._scenes_this_step()
        batch = self.guidance.sample(self.gen, scenes)
        query = self._scene_query(scenes)
        out = render_rays(query, batch.rays_o, batch.rays_d, batch.scene_ids, self.grid, batch.background, generator=self.gen)
        loss, figures = self.guidance.loss(out, batch)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.hyper.parameters(), self.cfg.clip_grad)
        figures.update(loss=float(loss.detach()), grad_norm=float(grad_norm), samples=out.n_samples)
        return figures

    def _collapsed(self, loss: float) -> bool:
        if not math.isfinite(loss):
            return True
        if not getattr(self.guidance, "loss_tracks_quality", True) or len(self.recent_losses) < 20:
            return False
        median = sorted(self.recent_losses)[len(self.recent_losses) // 2]
        return loss > self.cfg.collapse_factor * median + 1e-3

    def run(self, on_progress: Progress | None = None, on_save: Callable[[], None] | None = None) -> dict:
        """Train until cfg.steps. Returns the last step's figures and timing."""
        start = time.perf_counter()
        figures: dict = {}
        self._take_snapshot()
        while self.step < self.cfg.steps:
            if self.step >= self.cfg.grid_warmup and self.step % self.cfg.grid_every == 0:
                self.update_grid()
            self._set_lr()
            figures = self.train_step()
            loss = figures["loss"]
            # The clipped norm is over every gradient: non-finite exactly when one of them is
            # (one check, instead of one per parameter tensor per step).
            params_ok = math.isfinite(figures["grad_norm"])
            if self._collapsed(loss) or not params_ok:
                self._rollback()
                figures["rollback"] = self.rollbacks
                if self.rollbacks > 5:
                    raise HfcliError("training keeps diverging (5 rollbacks); try a lower --lr")
                continue
            self.opt.step()
            self.step += 1
            self.recent_losses = (self.recent_losses + [loss])[-50:]
            if self.step % self.cfg.snapshot_every == 0:
                self._take_snapshot()
            if on_save is not None and (self.step % self.cfg.save_every == 0 or self.step == self.cfg.steps):
                on_save()
            if on_progress is not None:
                on_progress(self.step, self.cfg.steps, figures)
        figures["seconds"] = time.perf_counter() - start
        return figures


def resume_checkpoint(path, kind: str) -> ckpt_io.Checkpoint:
    ck = ckpt_io.load(path, kinds=(kind,))
    if "train" not in ck.extra:
        raise CheckpointError(f"{path} has no training state to resume from")
    return ck
