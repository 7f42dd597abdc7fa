"""Issue 18, item 4: a full disk (or any OSError) is one `error:` line naming the path, and teach
finds out before it trains, not at its final save."""

import collections
import errno

import pytest

from hfcli import checkpoint as ck
from hfcli.cli import run
from hfcli.config import FieldConfig, HyperConfig, LoopConfig, TeachConfig
from hfcli.errors import HfcliError
from hfcli.train import fit
from hfcli.train.teach import teach

Usage = collections.namedtuple("Usage", "total used free")


def test_teach_refuses_before_training_when_the_disk_cannot_hold_its_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(fit.shutil, "disk_usage", lambda path: Usage(10 << 30, 10 << 30, 64 << 10))
    cfg = TeachConfig(
        loop=LoopConfig(steps=4),
        field=FieldConfig(plane_res=16, plane_features=2, grid_res=4, grid_features=2, hidden=8),
        hyper=HyperConfig(d_model=16, n_heads=2, head_hidden=16, n_probe=16),
        rays_per_step=256,
        pool_rays=1 << 10,
    )
    seen = []
    out = tmp_path / "t.safetensors"
    with pytest.raises(HfcliError, match=f"not enough free space for {out}: .* MiB"):
        teach(["a red bowl"], out, cfg, report=lambda task, *_: seen.append(task))
    assert seen == []  # nothing rendered, nothing trained
    assert not out.exists()


def test_a_checkpoint_save_on_a_full_disk_is_one_error_naming_the_file(tmp_path, monkeypatch):
    import safetensors.torch as st

    def full(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(st, "save_file", full)
    out = tmp_path / "n.safetensors"
    with pytest.raises(HfcliError, match=f"^cannot write {out}: No space left on device$"):
        ck.save(ck.Checkpoint("nerf", {}, {"field": {}}, ["x"], "e"), out)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "err",
    [
        OSError(errno.ENOSPC, "No space left on device", "/data/out/mesh.glb"),
        PermissionError(errno.EACCES, "Permission denied", "/data/out/mesh.glb"),
        OSError(errno.EROFS, "Read-only file system", "/data/out/mesh.glb"),
    ],
    ids=["full", "permission", "read-only"],
)
def test_an_oserror_anywhere_is_one_error_line_naming_the_path(tmp_path, monkeypatch, capsys, err):
    import hfcli.train.teach as core

    def failing(*args, **kwargs):
        raise err

    monkeypatch.setattr(core, "teach", failing)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red bowl\n")
    code = run(["teach", str(prompts), "--out", str(tmp_path / "t.safetensors")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert lines == [f"error: /data/out/mesh.glb: {err.strerror}"]


@pytest.fixture
def full_disk(tmp_path):
    """A real 256 KiB tmpfs (root, with mount allowed), unmounted afterwards."""
    import shutil
    import subprocess

    where = tmp_path / "small"
    where.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip() or done.returncode}")
    yield where
    subprocess.run(["umount", str(where)], check=False)


def test_a_mesh_on_a_really_full_filesystem_is_one_line_and_leaves_nothing(full_disk, capsys):
    """Not a simulated error: a 1 MB textured glb onto a 256 KiB tmpfs."""
    assert run(["generate", "a pink chair", "--out", str(full_disk / "chair.glb")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "chair.glb" in err and "No space left on device" in err, err
    assert list(full_disk.iterdir()) == []  # no half-written mesh, no temporary
