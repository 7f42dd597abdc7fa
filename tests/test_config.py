"""One config: every option a command shows comes from its config dataclass, with the config's
default, and what a user types lands in the config the core receives; the core validates."""

import dataclasses

import pytest
import typer

from hfcli import config as C
from hfcli import output_config as O
from hfcli.cli import app, run
from hfcli.errors import HfcliError

COMMANDS = {
    "teach": C.TeachConfig,
    "distill": C.DistillConfig,
    "finetune": C.FinetuneConfig,
    "generate": O.MeshConfig,
    "export": O.ExportConfig,
    "interpolate": O.InterpolateConfig,
    "render": O.RenderConfig,
    "studio": O.StudioConfig,
}


def _value(cfg, path):
    for name in path:
        cfg = getattr(cfg, name)
    return cfg


@pytest.mark.parametrize("command", COMMANDS)
def test_each_config_option_is_on_its_command_with_the_configs_default(command):
    params = {p.name: p for p in typer.main.get_command(app).commands[command].params}
    cfg_type = COMMANDS[command]
    options = C.options_of(cfg_type)
    assert options, cfg_type
    for path, field in options:
        param = params["__".join(path)]
        assert C.flag_of(field) in param.opts + param.secondary_opts
        assert param.default == _value(cfg_type(), path), (command, path)
        assert param.help == field.metadata["option"]["help"]


def test_per_command_defaults_differ_where_the_configs_say():
    assert C.DistillConfig().loop.steps == 4000 and C.TeachConfig().loop.steps == 400
    finetune = C.FinetuneConfig().loop
    assert (finetune.steps, finetune.lr, finetune.encoding_lr_scale) == (300, 2e-2, 3.0)


def test_what_a_user_types_reaches_the_config(monkeypatch, tmp_path):
    from hfcli.train import distill as distill_mod

    seen = {}

    def fake_distill(teachers, prompts, out, cfg, resume=False, report=None, device="cpu"):
        seen["cfg"], seen["device"] = cfg, device
        return {"out": str(out), "prompts": [], "steps": 0, "psnr": None}

    monkeypatch.setattr(distill_mod, "distill", fake_distill)
    argv = ["distill", "t.safetensors", "--out", str(tmp_path / "s.safetensors"), "--lr", "0.01", "--static",
            "--plane-features", "4", "--steps", "7", "--seed", "3"]  # fmt: skip
    assert run(argv) == 0
    cfg = seen["cfg"]
    assert seen["device"] == "cpu"  # --device auto on a machine without a GPU
    assert (cfg.loop.lr, cfg.loop.steps, cfg.loop.seed) == (0.01, 7, 3)
    assert cfg.hyper.dynamic is False and cfg.field.plane_features == 4
    untouched = C.DistillConfig()
    assert cfg.field.grid_features == untouched.field.grid_features and cfg.rays_per_step == untouched.rays_per_step
    assert dataclasses.replace(cfg.loop, lr=untouched.loop.lr, steps=4000, seed=0) == untouched.loop


@pytest.mark.parametrize(
    "cfg, message",
    [
        (C.TeachConfig(loop=C.LoopConfig(steps=0)), "--steps must be at least 1 (got 0)"),
        (C.TeachConfig(loop=C.LoopConfig(lr=0.0)), "--lr must be above 0"),
        (C.TeachConfig(guidance="magic"), "--guidance must be one of auto, studio, sd"),
        (C.TeachConfig(sd=C.SDConfig(guidance_scale=-1.0)), "--guidance-scale must be above 0"),
        (C.FinetuneConfig(target_psnr=-3.0), "--target-psnr must be above 0"),
        (O.InterpolateConfig(frames=1), "--frames must be at least 2"),
        (C.DistillConfig(field=C.FieldConfig(plane_features=0)), "--plane-features must be at least 1"),
    ],
)
def test_the_core_validates_and_names_the_option(cfg, message):
    with pytest.raises(HfcliError, match=message.replace("(", r"\(").replace(")", r"\)")):
        C.validate(cfg)


def test_a_bad_value_is_one_line_from_the_core(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red bowl\n")
    assert run(["teach", str(prompts), "--out", str(tmp_path / "t.safetensors"), "--encoding-lr-scale", "0"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: --encoding-lr-scale must be above 0 (got 0)"
    assert not (tmp_path / "t.safetensors").exists()
