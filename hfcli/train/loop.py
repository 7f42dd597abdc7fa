"""The one training loop. teach, distill and finetune differ only in their Objective: what it
optimises (parameter groups) and how a batch is scored (its loss). The loop owns the rest:
the learning-rate schedule, occupancy-grid warm-up and updates, gradient clipping, the
divergence rule, checkpoint state and resume.

Divergence: a step whose loss is not finite, whose gradient norm is not finite, or (where the
loss tracks quality) whose loss exceeds `collapse_factor` times its recent median is not taken;
the last good state comes back (weights, optimiser, grid) with the learning rates halved. After
`max_rollbacks` of them training stops with an error. The core never prints: progress goes to
callbacks.
"""

from __future__ import annotations

import contextlib
import copy
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Protocol

import torch

from .. import checkpoint as ckpt_io
from ..config import LoopConfig
from ..errors import CheckpointError, HfcliError, Interrupted
from ..render.occupancy import OccupancyGrid

Progress = Callable[[int, int, dict], None]
RECENT_LOSSES = 50  # the window whose median a loss is compared with
MIN_RECENT_LOSSES = 20  # fewer than this: no median to compare with yet


class Objective(Protocol):
    grid: OccupancyGrid
    # False where loss values swing by design (SDS): then only a non-finite loss is a divergence.
    loss_tracks_quality: bool

    def param_groups(self, cfg: LoopConfig) -> list[dict]:
        """Adam groups ({"params": [...], "lr": base rate, ...}) at the config's rates."""

    def parameters(self) -> list[torch.Tensor]:
        """Every trained tensor, in a fixed order (gradient clipping, optimiser state names)."""

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The model and grid tensors a checkpoint holds and a rollback restores."""

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None: ...

    def update_grid(self, update: int, generator: torch.Generator) -> None:
        """The `update`-th refresh of the occupancy grid."""

    def loss(self, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
        """Sample a batch, render it, score it: (loss to minimise, figures to report)."""


class Trainer:
    def __init__(self, objective: Objective, cfg: LoopConfig, group=None):
        """group: a distributed.Group when torchrun runs several processes (hfcli/train/distributed.py)."""
        self.objective, self.cfg, self.group = objective, cfg, group
        groups = objective.param_groups(cfg)
        self.opt = torch.optim.Adam(groups)
        self.base_lrs = [g["lr"] for g in groups]
        self.gen = torch.Generator().manual_seed(cfg.seed)  # on the CPU whatever the device (hfcli/device.py)
        self.step = 0
        self.rollbacks = 0
        self.recent_losses: list[float] = []
        self.train_seconds = 0.0  # in steps only (not in hooks or saves)
        self._snapshot: tuple[dict, dict] | None = None

    # ------------------------------------------------------------------ state

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """Everything a checkpoint needs to resume: the objective's tensors, the RNG, Adam's moments."""
        tensors = self.objective.state_tensors()
        tensors["trainer.rng"] = self.gen.get_state()
        for i, p in enumerate(self.objective.parameters()):
            st = self.opt.state.get(p, {})
            for key in ("exp_avg", "exp_avg_sq"):
                if key in st:
                    tensors[f"optim.{i}.{key}"] = st[key]
        return tensors

    def checkpoint_extra(self) -> dict:
        return {"adam_step": self._adam_step(), "train": self.cfg.to_dict(), "rollbacks": self.rollbacks}

    def _adam_step(self) -> int:
        for st in self.opt.state.values():
            return int(st["step"])
        return 0

    def resume(self, ck: ckpt_io.Checkpoint) -> None:
        """Continue from a checkpoint written by `state_tensors` and `checkpoint_extra`."""
        self.objective.load_state_tensors(ck.tensors)
        adam_step = int(ck.extra.get("adam_step", 0))
        for i, p in enumerate(self.objective.parameters()):
            if f"optim.{i}.exp_avg" in ck.tensors:
                moments = [ck.tensors.get(f"optim.{i}.{key}") for key in ("exp_avg", "exp_avg_sq")]
                if any(m is None or m.shape != p.shape for m in moments):
                    raise CheckpointError(f"optimiser state {i} in the checkpoint does not match parameter {i}")
                self.opt.state[p] = {
                    "step": torch.tensor(float(adam_step)),
                    "exp_avg": ck.tensors[f"optim.{i}.exp_avg"].to(p.device).clone(),
                    "exp_avg_sq": ck.tensors[f"optim.{i}.exp_avg_sq"].to(p.device).clone(),
                }
        self.step = ck.step
        self.rollbacks = int(ck.extra.get("rollbacks", 0))
        self.base_lrs = [lr * 0.5**self.rollbacks for lr in self.base_lrs]  # the rates the run had reached
        gen_state = ck.tensors.get("trainer.rng")
        if gen_state is not None:
            self.gen.set_state(gen_state.to(torch.uint8))

    def _take_snapshot(self) -> None:
        tensors = {k: v.detach().clone() for k, v in self.objective.state_tensors().items()}
        self._snapshot = (tensors, copy.deepcopy(self.opt.state_dict()))

    def _rollback(self) -> None:
        tensors, opt_state = self._snapshot
        self.objective.load_state_tensors(tensors)
        self.opt.load_state_dict(copy.deepcopy(opt_state))
        self.base_lrs = [lr * 0.5 for lr in self.base_lrs]
        self.rollbacks += 1
        self.recent_losses.clear()

    # ------------------------------------------------------------------ loop

    def _set_lr(self) -> None:
        decay = self.cfg.lr_final_fraction ** (self.step / max(1, self.cfg.steps))
        for group, base in zip(self.opt.param_groups, self.base_lrs):
            group["lr"] = base * decay

    def train_step(self) -> dict:
        """Loss, gradients and their clipped norm for the current step; the update is not taken yet."""
        loss, figures = self.objective.loss(self.gen)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        params = self.objective.parameters()
        # Several processes: the mean gradient and loss over ranks, before clipping, on every rank.
        value = float(loss.detach()) if self.group is None else self.group.average(params, loss, figures)
        # The clipped norm is over every gradient: non-finite exactly when one of them is.
        grad_norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.clip_grad)
        figures.update(loss=value, grad_norm=float(grad_norm))
        return figures

    def _diverged(self, figures: dict) -> bool:
        loss = figures["loss"]
        if not (math.isfinite(loss) and math.isfinite(figures["grad_norm"])):
            return True
        if not self.objective.loss_tracks_quality or len(self.recent_losses) < MIN_RECENT_LOSSES:
            return False
        median = sorted(self.recent_losses)[len(self.recent_losses) // 2]
        return loss > self.cfg.collapse_factor * median + 1e-3

    def run(
        self,
        on_progress: Progress | None = None,
        on_save: Callable[[], None] | None = None,
        stop: Callable[[int], bool] | None = None,
    ) -> dict:
        """Train until cfg.steps, or until `stop(step)` says so before a step. Returns the last
        step's figures with the seconds spent in steps."""
        figures: dict = {}
        saved_at = -1
        if self.group is not None:
            self.group.align(self.objective)
        self._take_snapshot()
        with _stop_signals() as stopped:
            while self.step < self.cfg.steps:
                if signum := self._stop_signal(stopped):
                    self._stop(signum, on_save, saved=saved_at == self.step)
                if stop is not None and stop(self.step):
                    break
                start = time.perf_counter()
                if self.step >= self.cfg.grid_warmup and self.step % self.cfg.grid_every == 0:
                    self.objective.update_grid(self.step // self.cfg.grid_every, self.gen)
                    if self.group is not None:
                        self.group.share_grid(self.objective, self.step // self.cfg.grid_every)
                self._set_lr()
                figures = self.train_step()
                if self._diverged(figures):
                    if self.rollbacks >= self.cfg.max_rollbacks:
                        raise HfcliError(
                            f"training keeps diverging ({self.rollbacks} rollbacks, each halving the learning "
                            f"rates); try a lower --lr (this run started at {self.cfg.lr:g})"
                        )
                    self._rollback()
                    figures["rollback"] = self.rollbacks
                    continue
                self.opt.step()
                self.step += 1
                self.train_seconds += time.perf_counter() - start
                self.recent_losses = (self.recent_losses + [figures["loss"]])[-RECENT_LOSSES:]
                if self.step % self.cfg.snapshot_every == 0:
                    self._take_snapshot()
                if on_save is not None and (self.step % self.cfg.save_every == 0 or self.step == self.cfg.steps):
                    on_save()
                    saved_at = self.step
                if on_progress is not None:
                    on_progress(self.step, self.cfg.steps, figures)
            if signum := self._stop_signal(stopped):  # during the last step: still a stop, not a run that goes on
                self._stop(signum, on_save, saved=saved_at == self.step)
        figures["seconds"] = self.train_seconds
        return figures

    def _stop_signal(self, stopped: list[int]) -> int:
        """The signal to stop on (0: none); with several processes, one every rank agrees on."""
        if self.group is not None:
            return self.group.stop_signal(stopped)
        return stopped[0] if stopped else 0

    def _stop(self, signum: int, on_save: Callable[[], None] | None, saved: bool) -> None:
        """SIGINT or SIGTERM arrived during a step: save (where the run saves) and stop in one line."""
        name = signal.Signals(signum).name
        where = f"at step {self.step} of {self.cfg.steps}"
        if on_save is None:
            raise Interrupted(f"interrupted by {name} {where}; nothing saved", signum)
        if not saved:
            on_save()
        raise Interrupted(f"interrupted by {name} {where}; saved: continue with --resume", signum)


@contextlib.contextmanager
def _stop_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM, while training, only note that they came (the list they yield fills):
    the loop stops between steps, after a save, instead of dying mid-step with nothing saved. A
    second one acts as it would have (the handlers before are back). Signals ignored stay ignored."""
    stopped: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield stopped
        return
    # (None: a handler not set from Python; SIG_DFL is the nearest to put back)
    previous = {s: signal.getsignal(s) or signal.SIG_DFL for s in (signal.SIGINT, signal.SIGTERM)}

    def note(signum, _frame):
        stopped.append(signum)
        for s, handler in previous.items():
            signal.signal(s, handler)

    for s, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(s, note)
    try:
        yield stopped
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def resumable_checkpoint(path, kind: str) -> ckpt_io.Checkpoint:
    """A checkpoint of `kind` with the training state `Trainer.resume` needs."""
    ck = ckpt_io.load(path, kinds=(kind,))
    if "train" not in ck.extra:
        raise CheckpointError(f"{path} has no training state to resume from")
    return ck
