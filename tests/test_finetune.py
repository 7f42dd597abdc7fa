"""hf finetune: from the model's prediction or from scratch, studio or SD guidance, to a baked NeRF."""

import json

import pytest

from hfcli import checkpoint as ck
from hfcli.bundled import DEFAULT_MODEL
from hfcli.cli import run
from hfcli.config import FieldConfig, FinetuneConfig
from hfcli.train.finetune import finetune
from tests.test_sd import tiny_sd  # noqa: F401  (the session fixture)


def _small(target: float, steps: int = 60) -> FinetuneConfig:
    loop = FinetuneConfig().loop
    loop.steps = steps
    return FinetuneConfig(
        loop=loop,
        guidance="studio",
        rays_per_step=1024,
        pool_rays=1 << 13,
        target_psnr=target,
        check_every=5,
        check_resolution=32,
    )


def test_prediction_starts_closer_to_the_target_than_scratch():
    """A prompt the model learned: its prediction is already past 28 dB; a fresh NeRF needs steps.
    The prediction starts inside its own occupancy grid: the bundled student has faint density in
    space no training ray crossed, which that grid culls (32.1 dB here) and grids grown by a cell
    or two show (27.9 and 25.6 dB; from the all-occupied default, lower)."""
    model = _small(28.0)
    model.grid_margin = 0
    res = finetune("a red bowl", "default", None, model)
    assert res["reached"] and res["steps_to_target"] == 0 and res["psnr_start"] > 28.0, res
    scratch = finetune("a red bowl", "default", None, _small(20.0), from_scratch=True)
    assert scratch["psnr_start"] < 12.0, scratch  # nearly transparent: a white image
    assert scratch["reached"] and 0 < scratch["steps_to_target"] <= 60, scratch
    assert scratch["psnr"] >= 20.0 and scratch["history"][-1] == (scratch["steps_to_target"], scratch["psnr"])


def test_cli_finetune_with_sd_writes_a_nerf_that_exports(tiny_sd, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "mug.safetensors"
    argv = [
        "finetune",
        "a ceramic mug",
        "--guidance",
        "sd",
        "--sd-model",
        str(tiny_sd),
        "--steps",
        "2",
        "--device",
        "cpu",
        "--out",
        str(out),
        "--json",
    ]
    assert run(argv) == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["guidance"] == "sd" and result["steps"] == 2 and result["start"] == "model"
    header = ck.read_header(out)
    assert header["kind"] == "nerf" and header["prompts"] == ["a ceramic mug"] and header["extra"]["guidance"] == "sd"
    # Finetuned without the studio's density, the field records the blur of one trained here,
    # not its model's (the bundled default records half a voxel).
    blur = header["config"]["field"]["mesh_smooth_voxels"]
    assert (
        blur
        == FieldConfig().mesh_smooth_voxels
        != ck.read_header(DEFAULT_MODEL)["config"]["field"]["mesh_smooth_voxels"]
    )
    assert run(["export", str(out), "--out", str(tmp_path / "mug.glb"), "--resolution", "32", "--threshold", "1"]) == 0
    assert (tmp_path / "mug.glb").stat().st_size > 0


def _fails(capsys, argv, *fragments):
    rc = run([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert rc == 1, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["a red mug", "--sd-model", "/no/such/dir"], ["no such directory", "hf download"]),
        (["a red mug", "--sd-model", "some-org/not-cached"], ["hf download some-org/not-cached"]),
        (["   ", "--guidance", "studio"], ["empty prompt"]),
        (["a fluffy dragon", "--guidance", "studio"], ["'fluffy'", "'dragon'"]),
        (["a fluffy dragon"], ["'dragon'", "hf download stabilityai/stable-diffusion-2-1-base"]),
        (["a red mug", "--guidance", "sd"], ["needs --sd-model"]),
        (["a red mug", "--target-psnr", "30", "--steps", "0"], ["--steps must be at least 1"]),
    ],
)
def test_bad_input_is_one_line(tmp_path, capsys, argv, fragments):
    _fails(capsys, ["finetune", *argv, "--out", tmp_path / "x.safetensors"], *fragments)
    assert not (tmp_path / "x.safetensors").exists()


def test_bad_sd_model_directories(tiny_sd, tmp_path, capsys):  # noqa: F811
    (tmp_path / "notsd").mkdir()
    _fails(
        capsys,
        ["finetune", "a red mug", "--sd-model", tmp_path / "notsd", "--out", tmp_path / "x.safetensors"],
        "not a diffusers pipeline directory",
    )
    _fails(
        capsys,
        ["finetune", "a red mug", "--sd-model", tiny_sd, "--target-psnr", "30", "--out", tmp_path / "x.safetensors"],
        "--target-psnr needs studio guidance",
    )
