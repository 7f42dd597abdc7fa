"""Atomic file writes: every file hfcli writes appears whole or not at all.

A write goes to a private directory beside its target (mode 0700, named `.<name>.<random>.tmp`),
reached through a descriptor held open, and is renamed into place from there: someone else who
can write in the output directory can rename or replace entries there, but not redirect the
write or the chmod through a symlink. The writer holds an flock on its private directory, so a
later run that finds such directories of a killed one (SIGKILL runs no cleanup) removes them,
and leaves alone those still being written.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import HfcliError, WriteError

RUN_STARTED = time.time()  # temporary entries younger than this run are never taken for stale
_PROC_FD = Path("/proc/self/fd")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it into place, else delete it.

    The temporary file has the name of `path` (inside a private directory), so writers that look
    at extensions work.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target)
        with _private_dir(target) as (scratch, dir_fd):
            name = target.name
            os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd))
            yield _through_fd(dir_fd, name, scratch)
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)  # the file we made, never a link
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise OSError(f"the temporary file for {target} was replaced by something else")
                os.fchmod(fd, 0o666 & ~_umask())  # created 0600; give the usual mode
            finally:
                os.close(fd)
            os.replace(name, target, src_dir_fd=dir_fd)
    except OSError as err:  # disk full, permission, read-only file system: one line naming the file
        raise write_error(target, err) from None


def write_error(target: Path, err: OSError) -> WriteError:
    if isinstance(err, WriteError):
        return err
    return WriteError(f"cannot write {target}: {err.strerror or err}")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a private temporary directory beside `path`; on success it replaces `path` whole
    (concurrent writers to one `path` swap in turn: the last one wins, never a mix), else it is
    deleted."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(target)
    with _private_dir(target) as (scratch, dir_fd):
        yield _through_fd(dir_fd, None, scratch)
        os.fchmod(dir_fd, 0o777 & ~_umask())
        with _locked(target.parent):
            old = None
            if target.exists() or target.is_symlink():
                old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
                os.replace(target, old / "old")  # moved aside (a link moves as a link), deleted below
            _same_dir(scratch, dir_fd)
            os.replace(scratch, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


def clean_stale(target: Path) -> None:
    """Remove our temporary entries for `target` left by killed runs: older than this run,
    owned by us, and (directories) not locked by a live writer. Links are removed, never followed."""
    for entry in glob.glob(os.path.join(glob.escape(str(target.parent)), f".{glob.escape(target.name)}.*.tmp*")):
        try:
            st = os.lstat(entry)
            if st.st_uid != os.getuid() or st.st_mtime >= RUN_STARTED:
                continue
            if stat.S_ISDIR(st.st_mode):
                fd = os.open(entry, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live writer's
                finally:
                    os.close(fd)
                shutil.rmtree(entry, ignore_errors=True)
            else:  # the single temporary files of earlier hfcli versions
                os.unlink(entry)
        except OSError:
            continue


@contextlib.contextmanager
def _private_dir(target: Path) -> Iterator[tuple[Path, int]]:
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    dir_fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)  # marks it live for clean_stale; released if we die
        yield scratch, dir_fd
    finally:
        with contextlib.suppress(OSError):  # whatever is left: only inside our own directory
            _same_dir(scratch, dir_fd)
            shutil.rmtree(scratch)
        os.close(dir_fd)


def _through_fd(dir_fd: int, name: str | None, scratch: Path) -> Path:
    """A path into our directory by its descriptor, so renaming the directory away cannot
    redirect the writer (Linux); elsewhere the plain path."""
    if not _PROC_FD.is_dir():
        return scratch / name if name else scratch
    base = _PROC_FD / str(dir_fd)
    return base / name if name else base


def _same_dir(scratch: Path, dir_fd: int) -> None:
    st, held = os.lstat(scratch), os.fstat(dir_fd)
    if (st.st_dev, st.st_ino) != (held.st_dev, held.st_ino):
        raise OSError(f"the temporary directory {scratch} was replaced by something else")


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An flock on the directory itself: swaps in it take turns, and no lock file is left."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early (before long work) when `path` cannot be written. Creates no file."""
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
