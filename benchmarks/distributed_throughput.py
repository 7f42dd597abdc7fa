"""Distill throughput on 1 and N processes (torchrun, gloo) and the all-reduce that joins them.

    python benchmarks/distributed_throughput.py TEACHER.safetensors [--prompts 16] [--steps 20]

Runs `hf distill` at the default model and step size (8 prompts, 4096 rays a step): 1 process
with 1 thread, 2 processes with 1 thread each (torchrun), 1 process with 2 threads, and 1
process with 1 thread at half the rays, and prints prompts·steps per second of each from
train_seconds (steps only: no set-up, no evaluation). The teacher is copied with its prompts renamed outside the studio's
vocabulary, so no run spends minutes evaluating against ground truth (the compute of a step
does not depend on the words). Then it times a gloo all-reduce of the student's gradient (its
size taken from the model) between 2 processes on this machine, and estimates the step time on
N machines as t_rep + t_split / N + t_allreduce(N): t_rep (work every rank repeats: the
HyperNet forward and backward, sampling) and t_split (the rays' render and backward, split
over ranks) solved from the 1-process runs at R and R/2 rays (a rank of 2 renders R/2), so the
estimate does not lean on the 2-process run, which the other jobs on this machine slow; the
all-reduce as the measured one (gloo's own cost) plus the ring algorithm's 2 (N - 1) / N
gradient sizes per node over a given bandwidth. Load on the machine changes every figure: `uptime` is printed."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hfcli import checkpoint as ck
from hfcli.config import DistillConfig
from hfcli.hyper import HyperNet


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _distill(nproc: int, threads: int, rays: int, teacher: Path, prompts: Path, out: Path, steps: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    hf = ["distill", str(teacher), "--prompts", str(prompts), "--out", str(out), "--steps", str(steps)]
    hf += ["--rays-per-step", str(rays), "--save-every", str(steps), "--json"]
    launch = [sys.executable, "-m", "hfcli"]
    if nproc > 1:
        launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(nproc)]
        launch += ["--master-port", str(_port()), "-m", "hfcli"]
    done = subprocess.run(launch + hf, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _allreduce_worker(rank: int, world: int, port: int, numel: int, reps: int, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    flat, tiny = torch.randn(numel), torch.zeros(1)
    for _ in range(3):
        dist.all_reduce(flat)
    times, small = [], []
    for _ in range(reps):
        dist.barrier()
        start = time.perf_counter()
        dist.all_reduce(flat)
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        dist.all_reduce(tiny)
        small.append(time.perf_counter() - start)
    if rank == 0:
        queue.put((sorted(times)[reps // 2], sorted(small)[reps // 2]))
    dist.destroy_process_group()


def allreduce_seconds(numel: int, reps: int = 30) -> tuple[float, float]:
    """Median seconds of a gloo all-reduce of `numel` floats, and of one float, 2 processes."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    mp.start_processes(_allreduce_worker, (2, _port(), numel, reps, queue), nprocs=2, start_method="spawn")
    return queue.get()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("teacher", type=Path)
    parser.add_argument("--prompts", type=int, default=16, help="student prompts (of the teacher's)")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()

    cfg = DistillConfig()
    numel = sum(p.numel() for p in HyperNet(cfg.field, cfg.hyper).parameters())
    print(f"uptime: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    print(f"cores: {os.cpu_count()}; student gradient: {numel:,} floats ({numel * 4 / 2**20:.1f} MiB)")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        teacher, prompts = Path(tmp) / "teacher.safetensors", Path(tmp) / "prompts.txt"
        taught = ck.load(args.teacher, kinds=("teacher",))
        taught.prompts = [f"zorb {k}" for k in range(len(taught.prompts))]
        ck.save(taught, teacher)
        prompts.write_text("\n".join(taught.prompts[: args.prompts]) + "\n")
        rays = cfg.rays_per_step
        for nproc, threads, r in ((1, 1, rays), (2, 1, rays), (1, 2, rays), (1, 1, rays // 2)):
            out = Path(tmp) / f"s{nproc}{threads}{r}.safetensors"
            result = _distill(nproc, threads, r, teacher, prompts, out, args.steps)
            seconds = result["train_seconds"] / result["steps"]
            rows[nproc, threads, r] = seconds
            rate = cfg.prompts_per_step * result["steps"] / result["train_seconds"]
            print(
                f"{nproc} process(es) x {threads} thread(s), {r} rays a step: {seconds:.3f} s a step, "
                f"{rate:.2f} prompts·steps/s"
            )
            print(f"  uptime after: {subprocess.run(['uptime'], capture_output=True, text=True).stdout.strip()}")
    big, tiny = allreduce_seconds(numel)
    print(f"gloo all-reduce, 2 processes on this machine: gradient {big * 1e3:.1f} ms, one float {tiny * 1e6:.0f} µs")
    # t(R) = rep + split; t(R/2) = rep + split / 2
    t1, half = rows[1, 1, rays], rows[1, 1, rays // 2]
    split = 2 * (t1 - half)
    rep = t1 - split
    print(f"model (1 thread a rank): t_rep {rep:.3f} s + t_split {split:.3f} s / N + all-reduce")
    print(f"  2 processes on this machine by the model: {rep + split / 2 + big + tiny:.3f} s a step")
    for gbit in (1, 10):
        for n in (2, 4, 8, 16):
            ring = big + tiny + 2 * (n - 1) / n * numel * 4 / (gbit * 1e9 / 8)
            step = rep + split / n + ring
            print(
                f"  {n:2d} machines at {gbit:2d} Gbit/s: all-reduce {ring * 1e3:6.1f} ms, step {step:.3f} s, "
                f"speed-up {t1 / step:.2f}x, {cfg.prompts_per_step / step:.2f} prompts·steps/s"
            )


if __name__ == "__main__":
    main()
