"""`--device auto|cpu|cuda` on every command that computes: cuda where torch sees no GPU is one
line, exit 1, nothing written (the GPU is hidden from torch here, so this runs on any machine)."""

import pytest
import torch

from hfcli import device
from hfcli.cli import run

COMMANDS = {
    "teach": ["teach", "{p}", "--out", "{o}/t.safetensors"],
    "teach --shard": ["teach", "{p}", "--shard", "0/2", "--out-dir", "{o}/teachers"],
    "distill": ["distill", "{m}", "--out", "{o}/s.safetensors"],
    "finetune": ["finetune", "a red bowl", "--model", "{m}", "--out", "{o}/n.safetensors"],
    "generate": ["generate", "a red bowl", "--model", "{m}", "--out", "{o}/g.glb"],
    "interpolate": ["interpolate", "a red bowl", "a blue bowl", "--model", "{m}", "--out", "{o}/i.gif"],
    "export": ["export", "{m}", "-p", "a red bowl", "--out", "{o}/e.glb"],
    "render": ["render", "{m}", "-p", "a red bowl", "--out", "{o}/r.png"],
    "eval": ["eval", "{m}", "--json"],
    "serve": ["serve", "--model", "{m}", "--port", "0"],
}


@pytest.fixture
def no_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.mark.parametrize("name", list(COMMANDS))
def test_cuda_without_a_gpu_is_one_line_and_writes_nothing(name, no_gpu, tmp_path, capsys):
    prompts = tmp_path / "in" / "bowl.txt"
    prompts.parent.mkdir()
    prompts.write_text("a red bowl\n")
    model = tmp_path / "in" / "model.safetensors"
    model.write_bytes(b"")  # never read: the device is refused first
    out = tmp_path / "out"
    out.mkdir()
    argv = [a.format(p=prompts, m=model, o=out) for a in COMMANDS[name]] + ["--device", "cuda"]
    assert run(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --device cuda: torch sees no CUDA GPU"), err
    assert list(out.iterdir()) == []


def test_auto_follows_what_torch_sees(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.resolve("auto") == "cpu" and device.resolve("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert device.resolve("auto") == "cuda" and device.resolve("cuda") == "cuda" and device.resolve("cpu") == "cpu"


def test_an_unknown_device_is_a_usage_error(tmp_path, capsys):
    assert run(["generate", "a red bowl", "--out", str(tmp_path / "g.glb"), "--device", "tpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--device must be one of auto, cpu, cuda" in err[0], err
