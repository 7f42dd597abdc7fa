"""HyperNet: prompt tokens → the weights of every NeRF MLP layer (the HyperFields method).

A small pre-LN transformer pools the tokens into a scene code z. Head l maps [z, pooled
activation of layer l-1] to a bounded offset of a learned base matrix. The pooled activation
comes from a fixed probe set of points, so a prompt maps to exactly one NeRF and `bake` can
return plain tensors. With `dynamic=False` (the ablation) the heads see z only.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import FieldConfig, HyperConfig
from .field import Field, MLPWeights
from .text import TokenStates

PROBE_SEED = 1234


class WeightHead(nn.Module):
    """[z, pooled] → W [P, out, in], b [P, out] = base + bounded offset (zero at init)."""

    def __init__(self, cond_dim: int, hidden: int, out_dim: int, in_dim: int):
        super().__init__()
        self.out_dim, self.in_dim = out_dim, in_dim
        self.net = nn.Sequential(nn.Linear(cond_dim, hidden), nn.SiLU(), nn.Linear(hidden, out_dim * (in_dim + 1)))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        bound = 1.0 / math.sqrt(in_dim)
        self.base_w = nn.Parameter(torch.empty(out_dim, in_dim).uniform_(-bound, bound) * math.sqrt(6.0))
        self.base_b = nn.Parameter(torch.zeros(out_dim))
        self.w_scale = 2.0 * bound  # how far a prompt may move a weight from the base
        self.b_scale = 1.0

    def forward(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        delta = torch.tanh(self.net(cond))  # [P, out*(in+1)]
        dw = delta[:, : self.out_dim * self.in_dim].reshape(-1, self.out_dim, self.in_dim)
        db = delta[:, self.out_dim * self.in_dim :]
        return self.base_w + self.w_scale * dw, self.base_b + self.b_scale * db


class HyperNet(nn.Module):
    def __init__(self, field_cfg: FieldConfig, cfg: HyperConfig):
        super().__init__()
        self.field_cfg, self.cfg = field_cfg, cfg
        self.field = Field(field_cfg)
        d = cfg.d_model
        self.token_proj = nn.Linear(cfg.text_dim, d)
        self.pos = nn.Parameter(0.02 * torch.randn(cfg.max_tokens, d))
        layer = nn.TransformerEncoderLayer(d, cfg.n_heads, 2 * d, dropout=0.0, batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, cfg.n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)
        shapes = field_cfg.layer_shapes()
        self.heads = nn.ModuleList(
            WeightHead(d + (n_in if cfg.dynamic else 0), cfg.head_hidden, n_out, n_in) for n_out, n_in in shapes
        )
        gen = torch.Generator().manual_seed(PROBE_SEED)
        self.register_buffer("probe", torch.rand(cfg.n_probe, 3, generator=gen) * 1.8 - 0.9, persistent=False)

    def scene_code(self, tokens: TokenStates) -> torch.Tensor:
        """tokens [P, T, text_dim] → z [P, d_model] (masked mean of transformer outputs)."""
        states, mask = tokens.states, tokens.mask
        h = self.token_proj(states) + self.pos[: states.shape[1]]
        h = self.norm(self.transformer(h, src_key_padding_mask=~mask))
        m = mask[..., None].to(h.dtype)
        return (h * m).sum(1) / m.sum(1).clamp_min(1.0)

    def forward(self, tokens: TokenStates) -> MLPWeights:
        """Weights of every layer, batched over prompts: [(W [P, out, in], b [P, out]), ...]."""
        return self.weights_from_code(self.scene_code(tokens))

    def weights_from_code(self, z: torch.Tensor) -> MLPWeights:
        """Scene codes z [P, d_model] → batched weights (the conditioning space interpolate walks)."""
        n_prompts = z.shape[0]
        if not self.cfg.dynamic:
            return [head(z) for head in self.heads]
        # Probe activations are detached: the heads condition on them, gradients do not flow back.
        act = self.field.encoding(self.probe).detach()[None].expand(n_prompts, -1, -1)  # [P, M, in]
        weights: MLPWeights = []
        for i, head in enumerate(self.heads):
            w, b = head(torch.cat([z, act.mean(dim=1)], dim=-1))
            weights.append((w, b))
            if i < len(self.heads) - 1:
                act = torch.relu(torch.baddbmm(b[:, None, :], act, w.transpose(1, 2))).detach()
        return weights

    @torch.no_grad()
    def bake(self, tokens: TokenStates) -> list[MLPWeights]:
        """One plain-tensor MLP per prompt: [[(W [out, in], b [out]), ...], ...]."""
        return self.bake_codes(self.scene_code(tokens))

    @torch.no_grad()
    def bake_codes(self, z: torch.Tensor) -> list[MLPWeights]:
        batched = self.weights_from_code(z)
        return [[(w[p].clone(), b[p].clone()) for w, b in batched] for p in range(z.shape[0])]


def select_prompt(weights: MLPWeights, p: int) -> MLPWeights:
    """Prompt p's weights out of a batched set."""
    return [(w[p], b[p]) for w, b in weights]
