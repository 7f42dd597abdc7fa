"""Which raymarcher runs: the PyTorch reference, or the compiled kernels of ext/raymarch.

`--backend auto|torch|cpp|cuda` (or HFCLI_BACKEND) picks one for the process. The compiled
backends are built on first use with torch.utils.cpp_extension and cached, or ahead of time with
`python -m hfcli.render.backend --build`. A missing compiler or a failed build falls back to
PyTorch with one warning. `auto` takes the fastest that works for the tensors at hand: CUDA
kernels for CUDA tensors, C++ on the CPU, else PyTorch.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import torch

from ..fsutil import atomic_path

BACKENDS = ("auto", "torch", "cpp", "cuda")
ENV_VAR = "HFCLI_BACKEND"
# The march and compositing mirror the reference's float arithmetic step by step: no fused
# multiply-add (the fused field uses FMA instructions explicitly; it matches within rounding).
CPU_FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math"]
# at::parallel_for is inline OpenMP code in ATen's headers: without -fopenmp it compiles to a
# serial loop. Linux torch builds use OpenMP; a compiler without it gets a serial build instead.
OPENMP = ["-fopenmp"] if sys.platform.startswith("linux") else []
CUDA_FLAGS = ["-O3", "--fmad=false"]

_choice: str | None = None
_loaded: dict[str, ModuleType | None] = {}
_warned: set[str] = set()


def _quiet(_message: str) -> None:
    pass


# Told before a build starts (it takes a minute); the CLI prints it.
on_build: Callable[[str], None] = _quiet


class BackendError(ValueError):
    pass


def source_dir() -> Path:
    """ext/raymarch in a source checkout, or the copy packaged inside hfcli."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "ext" / "raymarch", here.parents[1] / "_ext" / "raymarch"):
        if (candidate / "raymarch.h").exists():
            return candidate
    raise FileNotFoundError("the raymarcher's C++ sources (ext/raymarch) are not installed")


def use(name: str | None) -> None:
    """Set the process-wide choice (None: HFCLI_BACKEND, else auto)."""
    global _choice
    if name is not None and name not in BACKENDS:
        raise BackendError(f"backend must be one of {', '.join(BACKENDS)} (got {name!r})")
    _choice = name


def chosen() -> str:
    name = _choice or os.environ.get(ENV_VAR) or "auto"
    if name not in BACKENDS:
        raise BackendError(f"{ENV_VAR} must be one of {', '.join(BACKENDS)} (got {name!r})")
    return name


def ops_for(device: torch.device) -> ModuleType | None:
    """The compiled ops to use for tensors on `device`, or None for the PyTorch path."""
    name = chosen()
    if name == "torch":
        return None
    if device.type == "cuda":
        if name in ("auto", "cuda"):
            return _load("cuda")
        return None  # cpp on CUDA tensors: the reference runs there instead
    if name == "cuda":
        _warn_once("cuda-on-cpu", "--backend cuda needs CUDA tensors; rendering on the CPU with the C++ backend")
    return _load("cpp")


def derived(owner: object, name: str, sources: tuple[torch.Tensor, ...], make: Callable):
    """make(*sources), kept on `owner` as `name` until a source is replaced or changed in place:
    the layouts the kernels read (bitfields, channels-last copies) are made once per update.
    In-place ops bump a tensor's version (optimizers, load_state_dict); writes through `.data`
    do not, and hfcli makes none."""
    versions = tuple(t._version for t in sources)
    cached = getattr(owner, name, None)  # (the sources, their versions, the result)
    if cached is None or cached[1] != versions or any(a is not b for a, b in zip(cached[0], sources)):
        cached = (sources, versions, make(*sources))
        setattr(owner, name, cached)
    return cached[2]


def _sources(kind: str) -> list[Path]:
    src = source_dir()
    cpu = [src / "raymarch.cpp", src / "field_cpu.cpp"]
    return cpu if kind == "cpp" else cpu + [src / "raymarch_cuda.cu"]


def _flag_sets() -> list[list[str]]:
    """Extra compiler flags to build with, best first: OpenMP, then none."""
    return [OPENMP, []] if OPENMP else [[]]


def module_name(kind: str, extra: list[str] | None = None) -> str:
    """A name that changes with the sources, the flags and torch, so a stale build is never loaded."""
    extra = _flag_sets()[0] if extra is None else extra
    digest = hashlib.sha256()
    for path in sorted(source_dir().glob("*")):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(" ".join(CPU_FLAGS + extra + CUDA_FLAGS).encode() + torch.__version__.encode())
    return f"hfcli_raymarch_{kind}_{digest.hexdigest()[:12]}"


def build_dir() -> Path:
    root = os.environ.get("TORCH_EXTENSIONS_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "hfcli", "extensions"
    )
    return Path(root)


def _load(kind: str) -> ModuleType | None:
    if kind not in _loaded:
        try:
            _loaded[kind] = _import_built(kind) or _build(kind)
        except Exception as err:  # a missing compiler, a failed build: fall back, once, loudly
            _loaded[kind] = None
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            _warn_once(kind, f"the {kind} raymarcher is unavailable ({first}); using the PyTorch one")
    return _loaded[kind]


def _import_built(kind: str) -> ModuleType | None:
    """Load an earlier build directly (importing torch.utils.cpp_extension costs ~0.3 s), but only
    one whose size and hash match what its build recorded: a cut-short .so kills the process with
    SIGBUS when loaded, so an entry that does not verify is never loaded (it is rebuilt)."""
    for extra in _flag_sets():
        name = module_name(kind, extra)
        path = _verified(name)
        if path is not None:
            return _exec_extension(name, path)
    return None


def _so_path(name: str) -> Path:
    return build_dir() / name / f"{name}.so"  # the name torch.utils.cpp_extension links to


def _manifest_path(name: str) -> Path:
    return build_dir() / name / f"{name}.verify.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _verified(name: str) -> Path | None:
    """The cached .so of `name` when it is whole (its size and sha256 as recorded at build time)."""
    so, manifest = _so_path(name), _manifest_path(name)
    try:
        record = json.loads(manifest.read_text())
        if so.stat().st_size == record["size"] and _digest(so) == record["sha256"]:
            return so
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _elf_whole(path: Path) -> bool:
    """An ELF file long enough to hold its own section-header table (the last thing the linker
    writes): how a build cached before builds were verified is told from one cut short."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            size = os.fstat(f.fileno()).st_size
    except OSError:
        return False
    if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit ELF only
        return False
    order = "little" if head[5] == 1 else "big"
    shoff = int.from_bytes(head[0x28:0x30], order)
    shentsize, shnum = int.from_bytes(head[0x3A:0x3C], order), int.from_bytes(head[0x3C:0x3E], order)
    return shnum > 0 and shoff + shentsize * shnum <= size


def _record(name: str) -> None:
    so = _so_path(name)
    with atomic_path(_manifest_path(name)) as tmp:
        tmp.write_text(json.dumps({"size": so.stat().st_size, "sha256": _digest(so)}))


def _exec_extension(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _build_lock(name: str):
    """One build of `name` at a time across processes (an flock, released if the holder dies)."""
    build_dir().mkdir(parents=True, exist_ok=True)
    with open(build_dir() / f".{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _compile(**kwargs) -> ModuleType:
    """torch.utils.cpp_extension.load, imported only when a build is needed (it costs ~0.3 s)."""
    from torch.utils import cpp_extension

    return cpp_extension.load(**kwargs)


def _build(kind: str) -> ModuleType:
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("torch has no CUDA")
    _ninja_on_path()

    def build(extra: list[str]) -> ModuleType:
        name = module_name(kind, extra)
        with _build_lock(name):
            done = _verified(name)
            if done is not None:  # another process built it while this one waited
                return _exec_extension(name, done)
            so = _so_path(name)
            if so.exists() and not _manifest_path(name).exists() and _elf_whole(so):
                _record(name)  # a whole build from before builds were verified: adopt it
                return _exec_extension(name, so)
            for stale in build_dir().glob(f".{name}.build.*"):  # builds killed midway (we hold the lock)
                shutil.rmtree(stale, ignore_errors=True)
            # Built in a directory of its own, then renamed into place: the cached name only
            # ever holds a whole .so, and a manifest written after it says which.
            scratch = build_dir() / f".{name}.build.{os.getpid()}"
            scratch.mkdir(parents=True)
            try:
                on_build(f"building the {kind} raymarcher (once; cached in {so.parent})")
                module = _compile(
                    name=name,
                    sources=[str(p) for p in _sources(kind)],
                    extra_cflags=CPU_FLAGS + extra + (["-DHFCLI_WITH_CUDA"] if kind == "cuda" else []),
                    extra_cuda_cflags=CUDA_FLAGS if kind == "cuda" else None,
                    extra_ldflags=extra,
                    build_directory=str(scratch),
                    verbose=False,
                )
                so.parent.mkdir(parents=True, exist_ok=True)
                _manifest_path(name).unlink(missing_ok=True)
                os.replace(scratch / so.name, so)
                _record(name)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            return module

    *preferred, last = _flag_sets()
    for extra in preferred:
        try:
            return build(extra)
        except Exception as err:  # e.g. a compiler without OpenMP: try the next set
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            _warn_once(
                f"{kind}-{extra}",
                f"building the {kind} raymarcher with {' '.join(extra)} failed ({first}); "
                "building it again without (its loops will run on one thread)",
            )
    return build(last)


def _ninja_on_path() -> None:
    """The `ninja` wheel puts its binary beside the venv's python, which may not be on PATH."""
    try:
        import ninja

        os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
    except ImportError:
        pass


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


def reset() -> None:
    """Forget loaded modules and warnings (tests)."""
    _loaded.clear()
    _warned.clear()


if __name__ == "__main__":
    # Ahead-of-time build: python -m hfcli.render.backend --build
    if sys.argv[1:] != ["--build"]:
        sys.exit("usage: python -m hfcli.render.backend --build")
    on_build = lambda msg: print(msg, file=sys.stderr)  # noqa: E731
    kinds = ["cpp"] + (["cuda"] if torch.cuda.is_available() else [])
    for kind in kinds:
        ok = _load(kind) is not None
        print(f"{kind}: {'built: ' + str(_so_path(_loaded[kind].__name__)) if ok else 'FAILED'}")
    sys.exit(0 if all(_loaded.get(k) for k in kinds) else 1)
