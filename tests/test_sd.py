"""SDS through a tiny randomly initialised Stable Diffusion pipeline, saved and loaded like a real one."""

import pytest
import torch

from hfcli.config import SDConfig
from hfcli.errors import HfcliError
from hfcli.guidance.sd import SDGuidance, load_pipeline, resolve_model_dir, view_index
from tests.tiny_sd import build_tiny_pipeline


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory):
    return build_tiny_pipeline(tmp_path_factory.mktemp("sd"))


@pytest.fixture(scope="session")
def sd_guidance(tiny_sd):
    return SDGuidance(["a red mug", "a blue lamp"], SDConfig(model=str(tiny_sd), device="cpu", render_resolution=8))


def test_loads_through_the_loader_a_real_model_takes(tiny_sd):
    pipe = load_pipeline(str(tiny_sd), torch.device("cpu"))
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert pipe.unet.dtype == torch.float32 and not any(p.requires_grad for p in pipe.unet.parameters())
    assert pipe.vae_scale_factor == 2 and pipe.unet.config.sample_size == 8


def test_sds_gradient_on_latents_is_weighted_noise_residual(sd_guidance):
    g = sd_guidance
    latents = torch.randn(2, 4, 8, 8, requires_grad=True)
    cond = g.cond[[0, 1], [0, 2]]  # red mug front view, blue lamp back view
    loss, terms = g.sds_loss(latents, cond)
    loss.backward()
    assert ((terms.t >= 20) & (terms.t <= 980)).all()
    assert torch.allclose(terms.w, 1.0 - g.scheduler.alphas_cumprod[terms.t])
    expected = terms.w[:, None, None, None] * (terms.eps_pred - terms.noise)
    assert torch.allclose(latents.grad, expected, atol=1e-5, rtol=1e-4)
    assert expected.abs().mean() > 1e-3  # a real signal, not a vanishing one


def test_cfg_combines_uncond_and_cond_in_the_right_order(sd_guidance):
    """The batched prediction against separate UNet calls on the scheduler's own noised latents."""
    g = sd_guidance
    latents = torch.randn(2, 4, 8, 8)
    cond = g.cond[[0, 1], [1, 3]]
    _, terms = g.sds_loss(latents, cond)
    noisy = g.scheduler.add_noise(latents, terms.noise, terms.t)
    with torch.no_grad():
        eps_u = g.pipe.unet(noisy, terms.t, encoder_hidden_states=g.uncond.expand(2, -1, -1)).sample
        eps_c = g.pipe.unet(noisy, terms.t, encoder_hidden_states=cond).sample
    right = eps_u + 100.0 * (eps_c - eps_u)
    swapped = eps_c + 100.0 * (eps_u - eps_c)
    assert torch.allclose(terms.eps_pred, right, atol=1e-3, rtol=1e-4)
    assert not torch.allclose(terms.eps_pred, swapped, atol=1e-2)


def test_view_dependent_prompts_and_random_background(sd_guidance):
    g = sd_guidance
    az = torch.tensor([0.0, 90.0, 180.0, 270.0, 350.0, 30.0])
    el = torch.tensor([10.0, 10.0, 10.0, 10.0, 10.0, 65.0])
    assert view_index(az, el).tolist() == [0, 1, 2, 1, 0, 3]
    differs = (g.cond[0, 0] - g.cond[0, 2]).abs().max()
    assert differs > 1e-4  # "front view" and "back view" are different conditions
    batch = g.sample(torch.Generator().manual_seed(0), [0, 1])
    assert batch.image_hw == (8, 8) and batch.rays_o.shape == (128, 3) and batch.views.shape == (2,)
    bg = batch.background.reshape(2, 64, 3)
    assert torch.equal(bg[:, :1].expand_as(bg), bg)  # one colour per image...
    assert not torch.allclose(bg[0, 0], bg[1, 0])  # ...drawn per image


def test_sds_gradient_reaches_the_nerf(sd_guidance):
    from hfcli.render.renderer import render_rays
    from hfcli.train.finetune import scratch_scene
    from hfcli.train.objectives import NerfObjective
    from tests.test_checkpoint import CONFIG

    scene = scratch_scene(CONFIG, "a red mug", seed=0)
    objective = NerfObjective(scene, sd_guidance, scene.grid)
    batch = sd_guidance.sample(torch.Generator().manual_seed(0), [0])
    out = render_rays(objective.query, batch.rays_o, batch.rays_d, batch.scene_ids, objective.grid, batch.background)
    loss, _ = sd_guidance.loss(out, batch)
    loss.backward()
    grads = [p.grad for p in objective.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(float(g.abs().max()) > 0 for g in grads)  # every MLP tensor and the encoding


def test_missing_and_malformed_models(tmp_path):
    with pytest.raises(HfcliError, match="hf download some-org/not-here"):
        resolve_model_dir("some-org/not-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(HfcliError, match="not a diffusers pipeline directory"):
        resolve_model_dir(str(tmp_path / "empty"))
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "unet").mkdir()
    (tmp_path / "half" / "model_index.json").write_text('{"unet": ["diffusers", "UNet2DConditionModel"]}')
    with pytest.raises(HfcliError, match="lacks vae, text_encoder, tokenizer, scheduler"):
        resolve_model_dir(str(tmp_path / "half"))


def test_teach_with_sd_trains_the_hypernetwork(tiny_sd, tmp_path):
    from hfcli import checkpoint as ck
    from hfcli.train.teach import teach
    from tests.test_teach import small_config

    out = tmp_path / "t.safetensors"
    prompts = ["a ceramic mug", "a brass lamp"]  # outside the studio vocabulary: SDS is the only guide
    # auto: a model is given, so sd
    cfg = small_config(3, guidance="auto", sd=SDConfig(model=str(tiny_sd), device="cpu", render_resolution=16))
    before = None

    def seen(task, done, total, figures):
        nonlocal before
        if task == "training" and before is None:
            before = figures

    report = teach(prompts, out, cfg, report=seen)
    assert report["guidance"] == "sd" and report["steps"] == 3 and report["psnr"] is None
    assert "sds_grad" in before and before["sds_grad"] > 0
    header = ck.read_header(out)
    assert header["kind"] == "teacher" and header["extra"]["guidance"] == "sd"
    heads = ck.load(out).tensors["model.heads.2.net.2.weight"]
    assert heads.abs().max() > 0  # zero at init: the SDS gradient moved the hypernetwork's heads
