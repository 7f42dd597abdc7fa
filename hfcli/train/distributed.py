"""Data-parallel training under torchrun (docs/ARCHITECTURE.md, "Training: one loop, one config").

torchrun starts N copies of `python -m hfcli teach|distill|finetune …` with RANK and WORLD_SIZE
set; each joins one process group (gloo on CPUs, NCCL on GPUs). Every rank holds the whole
model and draws the same global batch from the same random stream, so the stream, the model and
the occupancy grid stay identical everywhere. A rank then renders and scores only its share of
the step's rays: `RankShare` turns the rays of the other shares into rays that miss the scene
box (the renderer still draws their jitter, so the stream advances exactly as in one process,
and marching a ray that misses costs next to nothing) and weights its share's loss so that the
mean over ranks is the one-process loss. After backward, `Group.average` all-reduces the
gradients (their mean) before clipping, so clipping, the divergence rule and Adam see the
one-process gradient on every rank, beyond floating-point order.

Why an explicit all-reduce and not torch's DistributedDataParallel: DDP hooks a module's
forward, while a step here is a HyperNet forward, a bake and a render through plain functions
(the loop's Objective), with parameters that are not one module (NerfObjective); one flat
all-reduce after backward is the same arithmetic, in one collective a step.
"""

from __future__ import annotations

import atexit
import dataclasses
import datetime
import math
import os

import torch
import torch.distributed as dist

from ..errors import HfcliError

TIMEOUT_ENV = "HFCLI_DIST_TIMEOUT"  # seconds a collective waits for the other ranks
DEFAULT_TIMEOUT = 600.0  # set-up (a teacher's ground-truth pool) can keep a rank a few minutes
# A ray that misses the box [-1, 1]^3: it starts outside and points away from it.
_AWAY = torch.nn.functional.normalize(torch.ones(3), dim=0)


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def share(total: int, rank: int, world: int) -> slice:
    """Rank `rank`'s contiguous share of `total` items: sizes differ by at most one."""
    return slice(total * rank // world, total * (rank + 1) // world)


_group: Group | None = None


def group(device: torch.device | str = "cpu") -> Group | None:
    """The process group of this torchrun job (joined on the first call), or None in one process."""
    global _group
    if world_size() <= 1:
        return None
    if _group is None:
        _group = Group(torch.device(device))
    return _group


class Group:
    def __init__(self, device: torch.device):
        timeout = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT))
        self.device = device
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        self.timeout = timeout
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        try:
            if not dist.is_initialized():
                dist.init_process_group(self.backend, timeout=datetime.timedelta(seconds=timeout))
        except (RuntimeError, ValueError) as err:
            raise HfcliError(f"could not join the other training processes: {_first_line(err)}") from None
        atexit.register(_leave)
        self.rank, self.size = dist.get_rank(), dist.get_world_size()

    @property
    def lead(self) -> bool:
        return self.rank == 0

    def _collective(self, what: str, fn, *args, **kwargs):
        """A collective; a rank that died or hangs is one clear error on the others, not a hang."""
        try:
            return fn(*args, **kwargs)
        except (RuntimeError, dist.DistBackendError) as err:
            raise HfcliError(
                f"rank {self.rank}: lost the other training processes during {what} (a rank stopped, or none "
                f"answered within {self.timeout:g} s, ${TIMEOUT_ENV}): {_first_line(err)}"
            ) from None

    def align(self, objective) -> None:
        """Rank 0's model and grid on every rank before the first step (a safeguard: seeds and
        resume already make them equal; a mismatch in sizes fails here, not mid-run)."""
        tensors = {k: v.detach().clone().to(self.device) for k, v in objective.state_tensors().items()}
        for name in sorted(tensors):
            self._collective("the start", dist.broadcast, tensors[name], 0)
        objective.load_state_tensors(tensors)

    def share_grid(self, objective, update: int) -> None:
        """Rank 0's freshly updated grid cells everywhere: every rank computed the same update,
        and this keeps float differences between machines from splitting the grids."""
        grid = objective.grid
        scenes = objective.grid_scenes(update) if hasattr(objective, "grid_scenes") else list(range(len(grid.ema)))
        rows = grid.ema[scenes].contiguous()
        self._collective("a grid update", dist.broadcast, rows, 0)
        grid.ema[scenes] = rows
        grid.rethreshold()

    def stop_signal(self, stopped: list[int]) -> int:
        """The signal that stops training if any rank received one, else 0: all ranks stop at the
        same step (one rank stopping alone would leave the others waiting in a collective)."""
        flag = torch.tensor([stopped[0] if stopped else 0], dtype=torch.int64, device=self.device)
        self._collective("a step", dist.all_reduce, flag, op=dist.ReduceOp.MAX)
        return int(flag)

    def average(self, params: list[torch.Tensor], loss: torch.Tensor, figures: dict) -> float:
        """Mean gradients, loss and figures over ranks, in one all-reduce. A gradient that no rank
        has stays None (Adam skips it, as in one process); `samples` is summed. Returns the loss."""
        keys = [k for k, v in figures.items() if isinstance(v, float | int) and not isinstance(v, bool)]
        keys = [k for k in keys if k != "psnr"]
        has = [p.grad is not None for p in params]
        parts = [p.grad.reshape(-1) if p.grad is not None else torch.zeros(p.numel(), device=p.device) for p in params]
        head = [float(loss.detach())] + [float(figures[k]) for k in keys] + [float(h) for h in has]
        flat = torch.cat([torch.tensor(head, device=parts[0].device), *parts])
        self._collective("a step", dist.all_reduce, flat)
        flat /= self.size
        values = flat[: len(head)].tolist()
        at = len(head)
        for p, seen in zip(params, values[1 + len(keys) :]):
            n = p.numel()
            p.grad = flat[at : at + n].view_as(p).clone() if seen > 0 else None
            at += n
        for k, v in zip(keys, values[1 : 1 + len(keys)]):
            figures[k] = v * self.size if k == "samples" else v
        if "mse" in figures:
            figures["psnr"] = -10 * math.log10(max(figures["mse"], 1e-10))
        return values[0]

    def wrap(self, guidance) -> RankShare:
        if getattr(guidance, "name", "") == "sd":
            raise HfcliError("--guidance sd trains on whole images and does not split over processes yet")
        return RankShare(guidance, self.rank, self.size)


def _leave() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def _first_line(err: BaseException) -> str:
    """The error's first sentence: gloo's messages go on with advice about remote workers."""
    text = str(err).strip().splitlines()
    line = text[0].split(" This is typically")[0] if text else type(err).__name__
    return line if len(line) <= 200 else line[:199] + "…"


def _sliced(obj, keep: slice, total: int):
    """A dataclass copy of `obj` with each tensor that has one row per ray cut to `keep`."""
    cut = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if f.name == "background" and v.dim() == 1:  # one colour for every ray
            continue
        if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] == total:
            cut[f.name] = v[keep]
    return dataclasses.replace(obj, **cut)


class RankShare:
    """A guidance seen from one rank: the step's global batch (drawn as one process draws it),
    with the rays outside this rank's share sent away from the scene, and the share's loss
    weighted by its size so that the mean over ranks is the one-process mean."""

    def __init__(self, inner, rank: int, world: int):
        self.inner, self.rank, self.world = inner, rank, world
        self._keep, self._total = slice(0), 0

    def __getattr__(self, name):  # name, prompts, truth, loss_tracks_quality, …
        return getattr(self.inner, name)

    def _share(self, total: int) -> slice:
        if total < self.world:
            raise HfcliError(
                f"a step draws {total} rays, fewer than the {self.world} training processes; raise --rays-per-step"
            )
        self._keep, self._total = share(total, self.rank, self.world), total
        return self._keep

    def sample(self, generator: torch.Generator, scenes: list[int] | None = None):
        if getattr(self.inner, "renders_share", False):  # renders targets for the share only
            batch = self.inner.sample(generator, scenes, share=self._share)
        else:
            batch = self.inner.sample(generator, scenes)
            self._share(batch.rays_o.shape[0])
        if batch.image_hw is not None:
            raise HfcliError("a guidance that scores whole images does not split over processes")
        away = torch.ones(batch.rays_o.shape[0], dtype=torch.bool)
        away[self._keep] = False
        direction = _AWAY.to(batch.rays_d)
        rays_o = torch.where(away[:, None].to(batch.rays_o.device), 10.0 * direction, batch.rays_o)
        rays_d = torch.where(away[:, None].to(batch.rays_d.device), direction, batch.rays_d)
        return dataclasses.replace(batch, rays_o=rays_o, rays_d=rays_d)

    def point_loss(self, sigma, batch):
        """The density term. A guidance that renders shares gives only the share's points and
        divides their sum by the step's rays, all of them: only the all-reduce's mean over ranks
        is undone. One that does not (the studio) gives every rank all the points: their loss as is."""
        loss = self.inner.point_loss(sigma, batch)
        return loss * self.world if getattr(self.inner, "renders_share", False) else loss

    def loss(self, out, batch):
        total, keep = self._total, self._keep
        loss, figures = self.inner.loss(_sliced(out, keep, total), _sliced(batch, keep, total))
        weight = (keep.stop - keep.start) / total * self.world
        figures = {k: v * weight if isinstance(v, float) and k != "psnr" else v for k, v in figures.items()}
        return loss * weight, figures
