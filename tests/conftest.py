import os
import shutil

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def ops():
    """The C++ backend's compiled module (built on first use, about half a minute uncached)."""
    from hfcli.render import backend

    if shutil.which("c++") is None and shutil.which("g++") is None:
        pytest.skip("no C++ compiler on this machine: the cpp backend cannot be built")
    backend.reset()
    module = backend._load("cpp")
    assert module is not None, "the C++ raymarcher failed to build"
    return module
