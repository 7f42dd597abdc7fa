"""Stable Diffusion guidance: score distillation sampling (SDS, DreamFusion) through diffusers.

Each step renders one whole image per scene from a random orbit camera over a random solid
background (so the object cannot melt into a fixed one), upsamples it to the diffusion model's
resolution, encodes it with the VAE, noises the latents at t ~ U[0.02, 0.98] and asks the UNet
for the noise under classifier-free guidance (scale 100) with a view-dependent prompt. The
reparametrised loss 0.5 * ||z - sg(z - w(t) (eps_pred - eps))||^2, w(t) = 1 - abar_t, has
gradient w(t) (eps_pred - eps) with respect to the latents z; the UNet is never differentiated.

Models load from a local diffusers directory or the Hugging Face cache only; nothing is
downloaded at run time. diffusers is imported only when this guidance is asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..config import SDConfig
from ..errors import HfcliError, PromptError
from ..render import cameras as cams
from ..render.renderer import RenderOutput
from .base import RayBatch

SUGGESTED_MODEL = "stabilityai/stable-diffusion-2-1-base"
REQUIRED_PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
# DreamFusion's view-dependent suffixes: azimuth 0 (camera on +z) is the front.
VIEWS = ("front", "side", "back", "overhead")
OVERHEAD_ELEVATION_DEG = 60.0


# ----------------------------------------------------------------------------- loading


def _missing_model(name: str) -> HfcliError:
    example = "" if name == SUGGESTED_MODEL else f" (e.g. `hf download {SUGGESTED_MODEL}`)"
    return HfcliError(
        f"no Stable Diffusion model at {name!r}: not a directory, and not in the Hugging Face cache "
        f"(hfcli downloads nothing at run time). On a connected machine run `hf download {name}`{example} "
        "and copy the cache here, or give --sd-model a local diffusers pipeline directory"
    )


def resolve_model_dir(name: str) -> Path:
    """A local diffusers pipeline directory, or the cached snapshot of a model id."""
    path = Path(name).expanduser()
    looks_like_path = name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name
    if not path.exists() and looks_like_path:
        raise HfcliError(
            f"--sd-model {name}: no such directory. Give a local diffusers pipeline directory, or a model id "
            f"in the Hugging Face cache (on a connected machine: `hf download {SUGGESTED_MODEL}`)"
        )
    if not path.exists():
        from huggingface_hub import snapshot_download

        try:
            path = Path(snapshot_download(name, local_files_only=True))
        except Exception:  # not cached, or not even a valid id: the same advice either way
            raise _missing_model(name) from None
    if not path.is_dir():
        raise HfcliError(f"--sd-model {path} is a file; give a diffusers pipeline directory (with model_index.json)")
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise HfcliError(f"--sd-model {path} is not a diffusers pipeline directory (no model_index.json)")
    try:
        index = json.loads(index_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise HfcliError(f"--sd-model {path}: model_index.json is not valid JSON") from None
    missing = [
        p for p in REQUIRED_PARTS if not (isinstance(index.get(p), list) and index[p][0] and (path / p).is_dir())
    ]
    if missing:
        raise HfcliError(f"--sd-model {path} is not a Stable Diffusion pipeline: it lacks {', '.join(missing)}")
    return path


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise HfcliError("--device cuda: no CUDA device is available")
    return torch.device(device)


def load_pipeline(name: str, device: torch.device):
    """The diffusers pipeline of `name` on `device`: fp16 with attention slicing on CUDA, fp32 on CPU."""
    path = resolve_model_dir(name)
    import transformers

    # The core never prints: no loading bars or advice from the libraries (transformers warns
    # while diffusers imports, so it is quietened first).
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    import diffusers
    from diffusers import StableDiffusionPipeline

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    try:
        pipe = StableDiffusionPipeline.from_pretrained(
            str(path), dtype=dtype, local_files_only=True, safety_checker=None, requires_safety_checker=False
        )
    except Exception as err:  # diffusers raises many types for a damaged or foreign directory
        first = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        raise HfcliError(f"--sd-model {path} could not be loaded as a Stable Diffusion pipeline ({first})") from None
    pipe = pipe.to(device)
    if device.type == "cuda":
        pipe.enable_attention_slicing()
    for part in (pipe.unet, pipe.vae, pipe.text_encoder):
        part.requires_grad_(False).eval()
    return pipe


# ----------------------------------------------------------------------------- cameras


def view_index(azimuth_deg: torch.Tensor, elevation_deg: torch.Tensor) -> torch.Tensor:
    """[B] index into VIEWS: overhead above 60 degrees, else front/side/back by azimuth."""
    az = torch.remainder(azimuth_deg + 180.0, 360.0) - 180.0  # (-180, 180], 0 = front
    idx = torch.where(az.abs() < 45.0, 0, torch.where(az.abs() > 135.0, 2, 1))
    return torch.where(elevation_deg > OVERHEAD_ELEVATION_DEG, 3, idx)


@dataclass
class SdsTerms:
    """What one SDS evaluation used: t [B] long, noise and eps_pred like the latents, w [B]."""

    t: torch.Tensor
    noise: torch.Tensor
    eps_pred: torch.Tensor
    w: torch.Tensor


class SDGuidance:
    """Score distillation with a Stable Diffusion pipeline (see the module docstring)."""

    name = "sd"
    loss_tracks_quality = False  # SDS loss values swing with t; only a non-finite one is a failure

    def __init__(self, prompts: list[str], cfg: SDConfig, pipe=None):
        for p in prompts:
            if not p.strip():
                raise PromptError("empty prompt; describe the object, e.g. 'a ceramic mug'")
        self.prompts = list(prompts)
        self.cfg = cfg
        self.device = pick_device(cfg.device)
        self.pipe = pipe if pipe is not None else load_pipeline(cfg.model, self.device)
        self.dtype = self.pipe.unet.dtype
        self.scheduler = self.pipe.scheduler
        self.alphas = self.scheduler.alphas_cumprod.to(self.device, torch.float32)
        n_train = self.scheduler.config.num_train_timesteps
        self.t_min, self.t_max = int(cfg.t_range[0] * n_train), int(cfg.t_range[1] * n_train)
        latent_size = self.pipe.unet.config.sample_size
        self.sd_resolution = cfg.sd_resolution or latent_size * self.pipe.vae_scale_factor
        self.gen = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.uncond, self.cond = self._embed_prompts()

    @torch.no_grad()
    def _embed(self, texts: list[str]) -> torch.Tensor:
        tok = self.pipe.tokenizer(
            texts,
            padding="max_length",
            max_length=self.pipe.tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        )
        return self.pipe.text_encoder(tok.input_ids.to(self.device))[0]

    def _embed_prompts(self):
        """uncond [1, T, D]; cond [P, len(VIEWS), T, D] ("<prompt>, <view> view")."""
        uncond = self._embed([""])
        texts = [f"{p}, {v} view" for p in self.prompts for v in VIEWS]
        cond = self._embed(texts).reshape(len(self.prompts), len(VIEWS), *uncond.shape[1:])
        return uncond, cond

    # ------------------------------------------------------------------ Guidance
    def sample(self, generator: torch.Generator, scenes: list[int] | None = None) -> RayBatch:
        """One image per scene from a random orbit camera, over a random solid background."""
        scenes = list(range(len(self.prompts))) if scenes is None else sorted(scenes)
        n, res = len(scenes), self.cfg.render_resolution
        u = torch.rand(n, 2, generator=generator)
        lo, hi = cams.TRAIN_ELEVATION_RANGE_DEG
        azimuth, elevation = 360.0 * u[:, 0], lo + (hi - lo) * u[:, 1]
        rays_o, rays_d = cams.image_rays(cams.orbit_cameras(azimuth, elevation), res)  # [B, H*W, 3]
        background = torch.rand(n, 1, 3, generator=generator).expand(n, res * res, 3).reshape(-1, 3)
        scene_ids = torch.tensor(scenes).repeat_interleave(res * res)
        return RayBatch(
            rays_o.reshape(-1, 3),
            rays_d.reshape(-1, 3),
            scene_ids,
            background,
            image_hw=(res, res),
            views=view_index(azimuth, elevation),
        )

    def loss(self, out: RenderOutput, batch: RayBatch):
        h, w = batch.image_hw
        images = out.rgb.reshape(-1, h, w, 3).permute(0, 3, 1, 2)  # [B, 3, H, W]
        scenes = batch.scene_ids.reshape(len(images), -1)[:, 0]
        cond = self.cond[scenes.to(self.device), batch.views.to(self.device)]
        latents = self.encode(images)
        loss, terms = self.sds_loss(latents, cond)
        grad_norm = float(((terms.eps_pred - terms.noise) * terms.w[:, None, None, None]).norm())
        return loss, {"sds_grad": grad_norm, "t": float(terms.t.float().mean())}

    # ------------------------------------------------------------------ SDS
    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """images [B, 3, H, W] in [0, 1] → latents [B, 4, h, w] (differentiable, float32)."""
        x = F.interpolate(images, size=(self.sd_resolution,) * 2, mode="bilinear", align_corners=False)
        x = (x * 2.0 - 1.0).to(self.device, self.dtype)
        posterior = self.pipe.vae.encode(x).latent_dist
        return (posterior.sample(generator=self.gen) * self.pipe.vae.config.scaling_factor).float()

    @torch.no_grad()
    def predict_noise(self, noisy: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """CFG noise prediction: one UNet call on [uncond; cond], eps_u + s (eps_c - eps_u)."""
        b = noisy.shape[0]
        text = torch.cat([self.uncond.expand(b, -1, -1), cond]).to(self.dtype)
        eps = self.pipe.unet(
            torch.cat([noisy, noisy]).to(self.dtype), torch.cat([t, t]), encoder_hidden_states=text
        ).sample
        eps_uncond, eps_cond = eps.float().chunk(2)
        return eps_uncond + self.cfg.guidance_scale * (eps_cond - eps_uncond)

    def sds_loss(self, latents: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, SdsTerms]:
        """latents [B, 4, h, w] (with grad), cond [B, T, D] → loss whose gradient with respect to
        the latents is w(t) (eps_pred - eps), summed over images."""
        b = latents.shape[0]
        t = torch.randint(self.t_min, self.t_max + 1, (b,), generator=self.gen, device=self.device)
        noise = torch.randn(latents.shape, generator=self.gen, device=self.device)
        abar = self.alphas[t].reshape(-1, 1, 1, 1)
        noisy = abar.sqrt() * latents.detach() + (1.0 - abar).sqrt() * noise
        eps_pred = self.predict_noise(noisy, t, cond)
        w = 1.0 - self.alphas[t]
        grad = torch.nan_to_num(w.reshape(-1, 1, 1, 1) * (eps_pred - noise))
        target = (latents - grad).detach()
        loss = 0.5 * F.mse_loss(latents, target, reduction="sum")
        return loss, SdsTerms(t, noise, eps_pred, w)
