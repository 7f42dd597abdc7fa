"""Atomic file writes: every file hfcli writes appears whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it into place, else delete it.

    The temporary file keeps the suffix of `path` so writers that look at extensions work.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp_path, target)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early (before long work) when `path` cannot be written. Creates no file."""
    from .errors import HfcliError

    target = Path(path)
    if target.is_dir():
        raise HfcliError(f"--out {target} is a directory; give a file path")
    parent = target.parent if str(target.parent) else Path(".")
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise HfcliError(f"cannot write {target}: {probe} is not a writable directory")
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
