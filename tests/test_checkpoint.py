"""Checkpoints: round trips, and every kind of damaged or wrong file is refused cleanly."""

import json

import pytest
import torch
from safetensors.torch import save_file

from hfcli import checkpoint as ck
from hfcli.errors import CheckpointError
from hfcli.field import FieldConfig
from hfcli.hyper import HyperConfig, HyperNet
from hfcli.model import PromptModel, load_model_state, model_state, nerf_checkpoint, scene_from_nerf
from hfcli.text import TextEncoder

SMALL_FIELD = FieldConfig(plane_res=16, plane_features=4, grid_res=8, grid_features=4, hidden=16)
SMALL_HYPER = HyperConfig(d_model=32, n_heads=2, head_hidden=32, n_probe=64)
CONFIG = {"field": SMALL_FIELD.to_dict(), "hyper": SMALL_HYPER.to_dict()}


def _teacher(tmp_path, step=7):
    hyper = HyperNet(SMALL_FIELD, SMALL_HYPER)
    path = tmp_path / "t.safetensors"
    ckpt = ck.Checkpoint(
        "teacher",
        model_state(hyper),
        CONFIG,
        ["a red bowl"],
        "bundled:all-MiniLM-L6-v2",
        step=step,
        metrics={"psnr": 30.0},
    )
    ck.save(ckpt, path)
    return hyper, path


def test_teacher_round_trip(tmp_path):
    hyper, path = _teacher(tmp_path)
    loaded = ck.load(path, kinds=("teacher",))
    assert loaded.kind == "teacher" and loaded.step == 7 and loaded.prompts == ["a red bowl"]
    assert loaded.metrics == {"psnr": 30.0}
    other = HyperNet(SMALL_FIELD, SMALL_HYPER)
    load_model_state(other, loaded.tensors)
    for (name, a), b in zip(hyper.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), name


def test_baked_nerf_round_trip_renders_the_same(tmp_path):
    _, path = _teacher(tmp_path)
    model = PromptModel.from_checkpoint(ck.load(path))
    tokens = TextEncoder().encode(["a red bowl"])
    scene = model.bake_tokens(tokens, ["a red bowl"])[0]
    ck.save(nerf_checkpoint(scene, "bundled:all-MiniLM-L6-v2"), tmp_path / "n.safetensors")
    again = scene_from_nerf(ck.load(tmp_path / "n.safetensors", kinds=("nerf",)))
    pts = torch.rand(100, 3) * 2 - 1
    for a, b in zip(scene.query(pts), again.query(pts)):
        assert torch.equal(a, b)
    assert torch.equal(scene.grid.occupied, again.grid.occupied)


def test_wrong_kind_is_refused(tmp_path):
    _, path = _teacher(tmp_path)
    with pytest.raises(CheckpointError, match="is a teacher checkpoint; expected nerf"):
        ck.load(path, kinds=("nerf",))


@pytest.mark.parametrize(
    "damage",
    ["truncate", "garbage", "empty", "no_metadata", "bad_json", "future_version"],
)
def test_damaged_files_are_refused(tmp_path, damage):
    _, path = _teacher(tmp_path)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\x01not a checkpoint" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "no_metadata":
        save_file({"x": torch.zeros(2)}, str(path))
    elif damage == "bad_json":
        save_file({"x": torch.zeros(2)}, str(path), metadata={"hfcli": "{not json"})
    elif damage == "future_version":
        header = ck.read_header(path)
        header["format_version"] = 999
        save_file({"x": torch.zeros(2)}, str(path), metadata={"hfcli": json.dumps(header)})
    with pytest.raises(CheckpointError):
        ck.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        ck.load(tmp_path / "nope.safetensors")


def test_save_is_atomic(tmp_path, monkeypatch):
    hyper, path = _teacher(tmp_path)
    before = path.read_bytes()
    import safetensors.torch as st

    def broken(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(st, "save_file", broken)
    with pytest.raises(OSError):
        ck.save(ck.Checkpoint("teacher", model_state(hyper), CONFIG, ["x"], "e"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
