"""Issue 18, item 1: the compiled-extension cache survives cut-short files and concurrent builds.

Each case runs in a child process (a cut-short .so, once loaded, kills its process with SIGBUS)
against a cache of its own, with the compile replaced by a copy of the real build: what is under
test is which file gets loaded and when a build happens, not the compiler.
"""

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hfcli.render import backend

CHILD = textwrap.dedent(
    """
    import importlib.util, shutil, sys, time
    from pathlib import Path
    from hfcli.render import backend

    good, log = sys.argv[1], sys.argv[2]

    def fake_compile(name, build_directory, **kwargs):
        with open(log, "a") as f:
            f.write(f"start {time.time()}\\n")
        time.sleep(float(sys.argv[3]))
        target = Path(build_directory) / f"{name}.so"  # where torch.utils.cpp_extension links it
        shutil.copyfile(good, target)
        with open(log, "a") as f:
            f.write(f"end {time.time()}\\n")
        spec = importlib.util.spec_from_file_location(name, target)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    backend._compile = fake_compile
    module = backend._load("cpp")
    print("loaded" if module is not None and hasattr(module, "march") else "fallback")
    """
)


@pytest.fixture()
def cache(ops, tmp_path):
    """(the real build's .so, the cached path of its name in an empty cache, the child's env)."""
    good = Path(ops.__file__)
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path / "ext")}
    name = ops.__name__
    cached = tmp_path / "ext" / name / good.name
    return good, cached, env


def run_child(good: Path, log: Path, env: dict, delay: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(good), str(log), str(delay)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def starts(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.startswith("start")] if log.exists() else []


@pytest.mark.parametrize("keep", [0.0, 0.5], ids=["empty", "half"])
def test_a_cut_short_cached_extension_is_rebuilt_not_loaded(cache, tmp_path, keep):
    good, cached, env = cache
    cached.parent.mkdir(parents=True)
    data = good.read_bytes()
    cached.write_bytes(data[: int(len(data) * keep)])  # what an interrupted build leaves
    log = tmp_path / "log"
    child = run_child(good, log, env)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, (child.returncode, err[-2000:])  # not SIGBUS (-7), not a traceback
    assert out.strip() == "loaded", err[-2000:]
    assert len(starts(log)) == 1  # rebuilt once...
    assert cached.read_bytes() == data  # ...and the cache now holds the whole build
    again = run_child(good, log, env)
    assert again.communicate(timeout=120)[0].strip() == "loaded"
    assert len(starts(log)) == 1  # the next run loads it, verified, without building


def test_a_cached_extension_changed_after_its_build_is_not_loaded(cache, tmp_path):
    """A .so whose bytes no longer match the size and hash its build recorded is rebuilt."""
    good, cached, env = cache
    log = tmp_path / "log"
    first = run_child(good, log, env)
    assert first.communicate(timeout=120)[0].strip() == "loaded"
    data = cached.read_bytes()
    cached.write_bytes(data[: len(data) - 4096])
    second = run_child(good, log, env)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0 and out.strip() == "loaded", err[-2000:]
    assert len(starts(log)) == 2 and cached.read_bytes() == data


def test_concurrent_builds_of_one_extension_are_serialised(cache, tmp_path):
    """Two processes that find no build: one builds, the other waits for it and loads its result."""
    good, cached, env = cache
    log = tmp_path / "log"
    children = [run_child(good, log, env, delay=1.5) for _ in range(2)]
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0 and out.strip() == "loaded", err[-2000:]
    assert len(starts(log)) == 1, log.read_text()
    assert cached.read_bytes() == good.read_bytes()
    assert not list(cached.parent.parent.glob(".*.build.*"))  # no scratch directory left behind


def test_a_build_killed_midway_leaves_nothing_that_is_loaded(cache, tmp_path):
    """SIGKILL during a build: the cached name holds no partial file, and the next run builds."""
    good, cached, env = cache
    log = tmp_path / "log"
    child = run_child(good, log, env, delay=30)
    for _ in range(600):
        if starts(log):
            break
        child.poll()
        assert child.returncode is None
        time.sleep(0.05)
    child.kill()
    child.communicate()
    assert not cached.exists()
    again = run_child(good, log, env)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0 and out.strip() == "loaded", err[-2000:]
    assert not list(cached.parent.parent.glob(".*.build.*"))


def test_a_whole_build_cached_before_verification_is_adopted(cache, tmp_path):
    """A cache entry from before builds were verified (no record) is used when its ELF is whole."""
    good, cached, env = cache
    cached.parent.mkdir(parents=True)
    shutil.copyfile(good, cached)
    log = tmp_path / "log"
    child = run_child(good, log, env)
    assert child.communicate(timeout=120)[0].strip() == "loaded"
    assert starts(log) == []
    assert backend._elf_whole(good) and not backend._elf_whole(tmp_path / "missing")
