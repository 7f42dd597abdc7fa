"""The queue in front of the model, and the short-lived store of meshes that /mesh/ serves.

Policy: one computation at a time (torch already uses every core; two would only share them),
taken in arrival order. Up to `max_queue` requests wait behind it; one more is refused at once
with 503, so a flood cannot pile up unbounded work. A request whose client has hung up by the
time its turn comes (the page cancels a prompt the user replaced) is dropped without computing.
Once started, a computation runs to the end: torch cannot be interrupted half-way.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class Busy(Exception):
    """The queue is full."""


class Gone(Exception):
    """The client left before its turn; nothing was computed."""


class Worker:
    """Runs blocking jobs on one thread, one at a time, in arrival order, off the event loop."""

    def __init__(self, max_queue: int):
        self.max_queue = max_queue
        # One thread for ever: torch's per-thread state is set up once, and jobs cannot overlap
        # even when an awaiting request is cancelled while its job still runs.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-serve")
        self._lock = asyncio.Lock()  # wakes its waiters first come, first served
        self.waiting = 0
        self.busy = False
        self.served = 0
        self.dropped = 0
        self.refused = 0

    async def run(self, job: Callable[[], T], gone: Callable[[], Awaitable[bool]]) -> tuple[T, float]:
        """(job's result, seconds spent waiting for the turn). Raises Busy or Gone."""
        if self.waiting >= self.max_queue and (self.busy or self._lock.locked()):
            self.refused += 1
            raise Busy(f"busy: {self.waiting} requests are already waiting; try again shortly")
        arrived = time.perf_counter()
        self.waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self.waiting -= 1
        try:
            queued = time.perf_counter() - arrived
            if await gone():
                self.dropped += 1
                raise Gone()
            self.busy = True
            try:
                result = await asyncio.get_running_loop().run_in_executor(self._executor, _then_trim, job)
            finally:
                self.busy = False
            self.served += 1
            return result, queued
        finally:
            self._lock.release()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _libc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None  # not glibc (musl, macOS): nothing to trim


_MALLOC_TRIM = _libc_trim()


def _then_trim(job: Callable[[], T]) -> T:
    """Run `job`, then give the C heap's free pages back to the OS. A mesh allocates tens of MB
    of short-lived arrays (the marching-cubes grid, the glb); glibc keeps such freed memory in
    its arenas, so without this the server's resident size creeps up by about a fifth over its
    first 50 requests before it levels off (benchmarks/serve_latency.py). It costs milliseconds."""
    try:
        return job()
    finally:
        if _MALLOC_TRIM is not None:
            _MALLOC_TRIM(0)


class MeshStore:
    """The latest `max_items` meshes by id, up to `max_bytes` in all; the oldest go first. Long
    enough for a client to fetch the URL it was just given, short enough that the server's memory
    reaches its plateau within a few requests."""

    def __init__(self, max_items: int, max_bytes: int):
        self.max_items, self.max_bytes = max_items, max_bytes
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def put(self, data: bytes) -> str:
        key = secrets.token_hex(8)
        self._items[key] = data
        self._size += len(data)
        while (self._size > self.max_bytes or len(self._items) > self.max_items) and len(self._items) > 1:
            _, old = self._items.popitem(last=False)
            self._size -= len(old)
        return key

    def get(self, key: str) -> bytes | None:
        return self._items.get(key)

    def __len__(self) -> int:
        return len(self._items)
