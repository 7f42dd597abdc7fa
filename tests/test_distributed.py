"""Data-parallel distill under torchrun (gloo, this machine): 2 processes train the same student as
1 at the same global batch, a stopped 2-process run resumes in 1, a lost rank stops the others.

The tolerance: 2 processes against 1 differ by float order only (norm-relative 2e-4 at most over
the weights and Adam's moments, measured); summing the ranks' gradients instead of averaging
them doubles Adam's first moment (1.0), and a missing all-reduce trains each rank on half the
batch (0.7 to 1.2)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hfcli import checkpoint as ck
from hfcli.errors import HfcliError
from hfcli.guidance.base import RayBatch, photometric_loss
from hfcli.render.raymarch_torch import ray_aabb
from hfcli.render.renderer import RenderOutput
from hfcli.scene import box_tensor
from hfcli.train.distributed import RankShare, share
from hfcli.train.teach import teach
from tests.test_teach import small_config

TOLERANCE = 1e-2
# 3 prompts of 65 rays: 195 rays a step, so 2 processes take uneven shares (97 and 98).
ARGS = ["--steps", "4", "--rays-per-step", "195", "--plane-features", "4", "--grid-features", "2", "--json"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    return {**env, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def _command(nproc: int, teacher: Path, out: Path, *extra: str) -> list[str]:
    hf = ["distill", str(teacher), "--out", str(out), *ARGS, *extra]
    if nproc == 1:
        return [sys.executable, "-m", "hfcli", *hf]
    launch = ["-m", "torch.distributed.run", "--nproc-per-node", str(nproc), "--master-port", str(_free_port())]
    return [sys.executable, *launch, "-m", "hfcli", *hf]


def _run(nproc: int, teacher: Path, out: Path, *extra: str) -> dict:
    done = subprocess.run(
        _command(nproc, teacher, out, *extra), capture_output=True, text=True, env=_env(), timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, done.stdout  # rank 0 alone prints the JSON line
    return json.loads(lines[0])


def _worst_difference(a: Path, b: Path) -> tuple[float, str]:
    """max over float tensors (weights, grid, Adam's moments) of |a - b| / |a|."""
    ta, tb = ck.load(a).tensors, ck.load(b).tensors
    assert ta.keys() == tb.keys()
    rows = [
        (float((ta[k].double() - tb[k].double()).norm() / ta[k].double().norm().clamp_min(1e-30)), k)
        for k in ta
        if ta[k].is_floating_point()
    ]
    assert torch.equal(ta["trainer.rng"], tb["trainer.rng"])  # the same random stream was drawn
    return max(rows)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp")
    teacher = root / "teacher.safetensors"
    teach(["a red bowl", "a green bowl", "a blue plate"], teacher, small_config(1, pool_rays=1 << 12))
    # Words outside the studio's vocabulary: the student has no ground truth to be evaluated
    # against, which would take most of each run's time here.
    taught = ck.load(teacher)
    taught.prompts = ["zorb one", "zorb two", "zorb three"]
    ck.save(taught, teacher)
    one = root / "one.safetensors"
    _run(1, teacher, one)
    return root, teacher, one


def test_two_processes_train_the_one_process_student(runs):
    root, teacher, one = runs
    two = root / "two.safetensors"
    result = _run(2, teacher, two)
    assert result["steps"] == 4
    worst = _worst_difference(one, two)
    assert worst[0] < TOLERANCE, worst


def test_a_stopped_two_process_run_resumes_in_one(runs):
    root, teacher, one = runs
    out = root / "stopped.safetensors"
    proc = subprocess.Popen(
        _command(2, teacher, out, "--save-every", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    deadline = time.monotonic() + 90
    while not out.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # as Slurm stops a job: torchrun passes it to every rank
    _, err = proc.communicate(timeout=60)
    stopped_at = ck.read_header(out)["step"]
    assert 1 <= stopped_at < 4, err[-2000:]
    assert "saved: continue with --resume" in err
    result = _run(1, teacher, out, "--resume")
    assert result["steps"] == 4
    worst = _worst_difference(one, out)
    assert worst[0] < TOLERANCE, worst


def test_a_hung_rank_stops_the_other_with_one_line(runs, tmp_path):
    """Two ranks started by hand (no torchrun, which would stop the survivor itself): rank 1
    hangs mid-run (SIGSTOP) and rank 0 says so in one line and exits once HFCLI_DIST_TIMEOUT
    has passed, instead of waiting forever in a collective. (A rank that dies outright closes
    its connections, and the others fail at once with the same line.)"""
    _root, teacher, _one = runs
    out = tmp_path / "lost.safetensors"
    port = str(_free_port())
    procs = []
    for rank in (0, 1):
        env = {**_env(), "RANK": str(rank), "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}
        env["HFCLI_DIST_TIMEOUT"] = "3"
        procs.append(
            subprocess.Popen(
                _command(1, teacher, out, "--steps", "400", "--save-every", "1"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    deadline = time.monotonic() + 90
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    procs[1].send_signal(signal.SIGSTOP)
    start = time.monotonic()
    try:
        _, err = procs[0].communicate(timeout=60)
    finally:
        for proc in reversed(procs):  # whatever the outcome, neither is left running
            proc.kill()
            proc.wait()
    assert time.monotonic() - start < 30
    assert procs[0].returncode == 1, err[-2000:]
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "lost the other training processes" in lines[0], err[-2000:]
    assert "Traceback" not in err


@pytest.mark.parametrize("total,world", [(255, 2), (256, 3), (7, 7), (1000, 6)])
def test_shares_cover_every_ray_once(total, world):
    seen = [i for r in range(world) for i in range(total)[share(total, r, world)]]
    assert seen == list(range(total))
    sizes = {len(range(total)[share(total, r, world)]) for r in range(world)}
    assert max(sizes) - min(sizes) <= 1


class _PerRay:
    """A guidance with a per-ray loss, as studio and teachers have (depth included)."""

    name = "studio"

    def __init__(self, rays: int):
        self.rays = rays

    def sample(self, generator, scenes=None):
        o = torch.randn(self.rays, 3, generator=generator) * 0.3
        d = torch.nn.functional.normalize(torch.randn(self.rays, 3, generator=generator), dim=-1)
        target, depth = torch.rand(self.rays, 3, generator=generator), torch.rand(self.rays, generator=generator)
        return RayBatch(o, d, torch.zeros(self.rays, dtype=torch.long), torch.ones(3), target=target, depth=depth)

    def loss(self, out, batch):
        return photometric_loss(out, batch, depth_weight=1.0)


@pytest.mark.parametrize("rays,world", [(7, 3), (195, 2), (8, 8)])
def test_rank_shares_weigh_up_to_the_one_process_loss(rays, world):
    """The mean over ranks of the weighted share losses (what the all-reduce averages) is the
    one-process loss, uneven shares included; each rank keeps its own rays and sends the
    others out of the box."""
    full_batch = _PerRay(rays).sample(torch.Generator().manual_seed(1))
    out = RenderOutput(torch.rand(rays, 3), torch.rand(rays), torch.rand(rays), 0)
    full, figures = _PerRay(rays).loss(out, full_batch)
    losses, mses = [], []
    for rank in range(world):
        shared = RankShare(_PerRay(rays), rank, world)
        batch = shared.sample(torch.Generator().manual_seed(1))
        keep = share(rays, rank, world)
        assert torch.equal(batch.rays_o[keep], full_batch.rays_o[keep])
        near, far = ray_aabb(batch.rays_o, batch.rays_d, box_tensor())
        missed = torch.ones(rays, dtype=torch.bool)
        missed[keep] = False
        assert bool((far[missed] <= near[missed]).all())  # the others' rays march nothing here
        loss, share_figures = shared.loss(out, batch)
        losses.append(float(loss))
        mses.append(share_figures["mse"])
    assert sum(losses) / world == pytest.approx(float(full), rel=1e-5)
    assert sum(mses) / world == pytest.approx(figures["mse"], rel=1e-5)


def test_fewer_rays_than_processes_is_one_clear_error():
    with pytest.raises(HfcliError, match="fewer than the 4 training processes"):
        RankShare(_PerRay(3), 0, 4).sample(torch.Generator())
