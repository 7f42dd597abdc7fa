"""`hf teach --shard i/n`: which of a list of prompt files one machine teaches. No torch, so the
CLI checks the option before anything heavy loads.

The list is put in one order first (the paths as written, by code point, duplicates dropped), so
every machine splits it the same way whatever order its shell globbed the files in; then file k
of that order goes to shard k mod n. Shards are numbered from 0, as Slurm numbers an
`--array=0-(n-1)` job's tasks (SLURM_ARRAY_TASK_ID), so `--shard $SLURM_ARRAY_TASK_ID/n`."""

from __future__ import annotations

import re
from pathlib import Path

SHARD_FORMAT = re.compile(r"^(\d+)/(\d+)$")


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' → (i, n) with 0 <= i < n; ValueError with one line otherwise."""
    match = SHARD_FORMAT.match(text.strip())
    if match is None:
        raise ValueError(f"--shard must be i/n, two whole numbers such as 0/4 (got {text!r})")
    i, n = int(match[1]), int(match[2])
    if n < 1:
        raise ValueError(f"--shard {text}: the number of shards must be at least 1")
    if i >= n:
        raise ValueError(f"--shard {text}: shards are numbered from 0, so i must be below n ({n})")
    return i, n


def shard_files(files: list[Path], index: int, count: int) -> list[Path]:
    """The files shard `index` of `count` teaches (see the module's docstring)."""
    ordered = sorted({str(f): f for f in files}.items())
    return [f for k, (_, f) in enumerate(ordered) if k % count == index]
