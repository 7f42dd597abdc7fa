"""--device reaches every tensor: each computing command run on a stand-in accelerator
(tests/accelerator.py: torch's `meta` device with CPU data behind it, which fails as CUDA
does where a CPU tensor meets it) completes, queries its field only there, and gives what the
CPU gives within float rounding. So a tensor left on the CPU in the GPU path fails here, on a machine without a GPU.
The compiled kernels read raw CPU memory, so these runs use the PyTorch backend."""

import pytest
import torch

from hfcli import checkpoint as ckpt_io
from hfcli import field as field_mod
from hfcli.generate import export_model, generate_many, render_model
from hfcli.interpolate import interpolate
from hfcli.output_config import ExportConfig, InterpolateConfig, MeshConfig, RenderConfig
from hfcli.render import backend

from .accelerator import DEVICE, Mixed, accelerator, on_accelerator
from .test_teach import small_config

SMALL_MESH = {"resolution": 32, "faces": 500, "texture_size": 64}


@pytest.fixture(autouse=True)
def same_kernels():
    """The PyTorch backend, and no fused attention fast path: a tensor subclass turns it off,
    so the CPU run must go without it too for the two to agree bit for bit."""
    backend.use("torch")
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    yield
    torch.backends.mha.set_fastpath_enabled(fast)
    backend.use(None)


@pytest.fixture
def field_devices(monkeypatch):
    """The device of every point set the field is queried at."""
    seen = []
    raw = field_mod.Field.raw

    def spy(self, points, weights):
        seen.append(points.device.type)
        return raw(self, points, weights)

    monkeypatch.setattr(field_mod.Field, "raw", spy)
    return seen


def test_the_stand_in_fails_where_cuda_would():
    with accelerator() as dev:
        x = torch.ones(4, device=dev)
        assert on_accelerator(x) and on_accelerator(torch.arange(4).to(dev) + x)
        with pytest.raises(Mixed):
            x + torch.ones(4)
        with pytest.raises(Mixed):
            torch.rand(4, generator=torch.Generator(), device=dev)
        with pytest.raises(TypeError):
            x.numpy()
        assert (x * torch.tensor(2.0)).cpu().tolist() == [2.0] * 4  # 0-dim CPU tensors mix, as on CUDA


def test_the_fused_field_kernel_takes_cpu_tensors_only():
    w = [(torch.zeros(4, 3), torch.zeros(4))]
    assert field_mod._fusable(torch.zeros(2, 3), w)
    with accelerator() as dev:
        assert not field_mod._fusable(torch.zeros(2, 3, device=dev), [(a.to(dev), b.to(dev)) for a, b in w])


def _close(a: dict, b: dict, atol: float = 1e-3) -> bool:
    """The same tensors within float rounding: ops on a tensor subclass reach the CPU kernels
    through their decompositions, which round differently."""
    return a.keys() == b.keys() and all(torch.allclose(a[k].float(), b[k].float(), atol=atol, rtol=1e-3) for k in a)


def _image(path):
    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(path), dtype=float) / 255


def test_generate_runs_on_the_device_and_writes_what_the_cpu_writes(tmp_path, field_devices):
    cfg = MeshConfig(**SMALL_MESH)
    cpu, acc = tmp_path / "cpu", tmp_path / "acc"
    for d in (cpu, acc):
        d.mkdir()
    generate_many("default", [("a yarn bowl", cpu / "b.glb")], cfg, cpu / "n.safetensors", cpu / "p.png")
    assert set(field_devices) == {"cpu"}
    field_devices.clear()
    with accelerator() as dev:
        generate_many(
            "default", [("a yarn bowl", acc / "b.glb")], cfg, acc / "n.safetensors", acc / "p.png", device=dev
        )
    assert field_devices and set(field_devices) == {DEVICE.type}
    assert _close(ckpt_io.load(cpu / "n.safetensors").tensors, ckpt_io.load(acc / "n.safetensors").tensors)
    assert abs(_image(cpu / "p.png") - _image(acc / "p.png")).mean() < 1e-3
    assert (acc / "b.glb").stat().st_size > 0


def test_render_export_interpolate_on_the_device(tmp_path, field_devices):
    cpu, acc = tmp_path / "cpu", tmp_path / "acc"
    nerf = tmp_path / "n.safetensors"
    generate_many("default", [("a red chair", tmp_path / "c.glb")], MeshConfig(**SMALL_MESH), nerf)
    for d in (cpu, acc):
        d.mkdir()
    field_devices.clear()
    with accelerator() as dev:
        for out, device in ((cpu, "cpu"), (acc, dev)):
            render_model(nerf, None, out / "r.png", RenderConfig(views=1, resolution=32), device)
            export_model("default", "a red chair", out / "e.glb", ExportConfig(**SMALL_MESH), device=device)
            frames = InterpolateConfig(frames=2, **SMALL_MESH)
            interpolate("default", "a red chair", "a blue bowl", out / "i", frames, device=device)
    assert DEVICE.type in field_devices
    assert abs(_image(cpu / "r.png") - _image(acc / "r.png")).mean() < 1e-3
    assert sorted(p.name for p in cpu.rglob("*.*")) == sorted(p.name for p in acc.rglob("*.*"))


def test_teach_distill_finetune_run_their_steps_on_the_device(tmp_path, monkeypatch, field_devices):
    """Forward only: the stand-in cannot run autograd's backward (its formulas make bare `meta`
    tensors with no data), so `backward` is a no-op here and the weights stay put. What runs is
    everything a step does before it: sampling, moving the batch, the grid, the render, the loss."""
    from hfcli.config import DistillConfig, FinetuneConfig, LoopConfig
    from hfcli.train.distill import distill
    from hfcli.train.finetune import finetune
    from hfcli.train.teach import teach

    teacher = tmp_path / "teacher.safetensors"
    teach(["a red bowl"], teacher, small_config(4, pool_rays=1 << 12))  # on the CPU: what the others start from
    runs = {
        "teach": lambda out, dev: teach(["a red bowl"], out, small_config(3, pool_rays=1 << 12)),
        "distill": lambda out, dev: distill([teacher], None, out, small_config(3, cls=DistillConfig), device=dev),
        "finetune": lambda out, dev: finetune(
            "a red bowl",
            teacher,
            out,
            FinetuneConfig(loop=LoopConfig(steps=3, grid_warmup=2), rays_per_step=256, pool_rays=1 << 12),
        ),
    }
    monkeypatch.setattr(torch.Tensor, "backward", lambda *a, **k: None)
    for name, run in runs.items():
        field_devices.clear()
        out = tmp_path / f"{name}.safetensors"
        with accelerator() as dev:
            for module in ("hfcli.train.teach", "hfcli.train.finetune"):  # they read --device from cfg.sd
                monkeypatch.setattr(f"{module}.resolve", lambda _name, dev=dev: dev)
            run(out, dev)
        assert field_devices and set(field_devices) == {DEVICE.type}, name
        assert all(t.device.type == "cpu" for t in ckpt_io.load(out).tensors.values()), name
