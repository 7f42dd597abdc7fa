"""A minimal BERT encoder forward in plain torch, loaded straight from model.safetensors.

Importing transformers and building its model costs seconds of process start-up; the text
encoder is frozen and only needs last_hidden_state, so this reads the config and weights
itself and runs the standard post-LayerNorm BERT encoder.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open

from .errors import HfcliError


class UnsupportedModel(HfcliError):
    """The model directory is valid but not a plain BERT this module can run."""


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    eps: float
    max_positions: int
    type_vocab_size: int

    @classmethod
    def from_dir(cls, path: Path) -> BertConfig:
        """Read config.json; raise UnsupportedModel for anything but a post-LN, GELU, absolute-position BERT."""
        raw = json.loads((path / "config.json").read_text())
        if raw.get("model_type") != "bert":
            raise UnsupportedModel(f"{path}: model_type {raw.get('model_type')!r} is not 'bert'")
        if raw.get("hidden_act", "gelu") != "gelu":
            raise UnsupportedModel(f"{path}: hidden_act {raw['hidden_act']!r} is not supported (only 'gelu')")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise UnsupportedModel(
                f"{path}: position_embedding_type {raw['position_embedding_type']!r} is not supported"
            )
        try:
            cfg = cls(
                vocab_size=int(raw["vocab_size"]),
                hidden_size=int(raw["hidden_size"]),
                num_layers=int(raw["num_hidden_layers"]),
                num_heads=int(raw["num_attention_heads"]),
                intermediate_size=int(raw["intermediate_size"]),
                eps=float(raw.get("layer_norm_eps", 1e-12)),
                max_positions=int(raw["max_position_embeddings"]),
                type_vocab_size=int(raw.get("type_vocab_size", 2)),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise UnsupportedModel(f"{path}: config.json lacks or mangles a BERT field: {err}") from None
        if cfg.hidden_size % cfg.num_heads:
            raise UnsupportedModel(f"{path}: hidden_size {cfg.hidden_size} is not a multiple of {cfg.num_heads} heads")
        return cfg

    def tensor_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every tensor the forward reads, by its BertModel name (no 'bert.' prefix)."""
        h, i = self.hidden_size, self.intermediate_size
        shapes: dict[str, tuple[int, ...]] = {
            "embeddings.word_embeddings.weight": (self.vocab_size, h),
            "embeddings.position_embeddings.weight": (self.max_positions, h),
            "embeddings.token_type_embeddings.weight": (self.type_vocab_size, h),
            "embeddings.LayerNorm.weight": (h,),
            "embeddings.LayerNorm.bias": (h,),
        }
        linears = {
            "attention.self.query": (h, h), "attention.self.key": (h, h), "attention.self.value": (h, h),
            "attention.output.dense": (h, h), "intermediate.dense": (i, h), "output.dense": (h, i),
        }  # fmt: skip
        for n in range(self.num_layers):
            pre = f"encoder.layer.{n}."
            for name, (out, inp) in linears.items():
                shapes[pre + name + ".weight"] = (out, inp)
                shapes[pre + name + ".bias"] = (out,)
            for name in ("attention.output.LayerNorm", "output.LayerNorm"):
                shapes[pre + name + ".weight"] = shapes[pre + name + ".bias"] = (h,)
        return shapes


class Bert:
    """Frozen BERT encoder: input_ids, attention_mask [P, T] → last_hidden_state [P, T, H]."""

    def __init__(self, path: Path, device: torch.device):
        self.config = BertConfig.from_dir(path)
        shapes = self.config.tensor_shapes()
        with safe_open(str(path / "model.safetensors"), framework="pt") as f:
            keys = set(f.keys())
            # Checkpoints of task heads (BertForMaskedLM, …) nest the encoder under "bert.".
            prefix = "" if "embeddings.word_embeddings.weight" in keys else "bert."
            self.w: dict[str, torch.Tensor] = {}
            for name, shape in shapes.items():
                if prefix + name not in keys:
                    raise ValueError(f"model.safetensors has no tensor {name!r}")
                t = f.get_tensor(prefix + name)
                if tuple(t.shape) != shape:
                    raise ValueError(f"tensor {name!r} has shape {tuple(t.shape)}, config.json implies {shape}")
                # float32 always, as transformers loads by default; half precision is slow on CPU
                self.w[name] = t.to(device=device, dtype=torch.float32)

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def _norm(self, x: torch.Tensor, name: str) -> torch.Tensor:
        h = self.config.hidden_size
        return F.layer_norm(x, (h,), self.w[name + ".weight"], self.w[name + ".bias"], self.config.eps)

    @torch.no_grad()
    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        cfg, w = self.config, self.w
        p, t = input_ids.shape
        if t > cfg.max_positions:
            raise HfcliError(f"{t} tokens exceed the encoder's {cfg.max_positions} positions")
        x = (
            w["embeddings.word_embeddings.weight"][input_ids]
            + w["embeddings.position_embeddings.weight"][:t]
            + w["embeddings.token_type_embeddings.weight"][0]  # single-segment input: type id 0
        )
        x = self._norm(x, "embeddings.LayerNorm")
        # additive key mask [P, 1, 1, T]: padded keys get the most negative float, so softmax gives them 0
        bias = torch.zeros(p, 1, 1, t, dtype=x.dtype, device=x.device)
        bias.masked_fill_(~attention_mask.bool()[:, None, None, :], torch.finfo(x.dtype).min)
        heads, head_dim = cfg.num_heads, cfg.hidden_size // cfg.num_heads

        def split(y: torch.Tensor) -> torch.Tensor:  # [P, T, H] → [P, heads, T, head_dim]
            return y.view(p, t, heads, head_dim).transpose(1, 2)

        for n in range(cfg.num_layers):
            pre = f"encoder.layer.{n}."
            q, k, v = (split(self._linear(x, pre + "attention.self." + s)) for s in ("query", "key", "value"))
            scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim) + bias
            ctx = (scores.softmax(-1) @ v).transpose(1, 2).reshape(p, t, cfg.hidden_size)
            x = self._norm(x + self._linear(ctx, pre + "attention.output.dense"), pre + "attention.output.LayerNorm")
            mid = F.gelu(self._linear(x, pre + "intermediate.dense"))  # exact erf GELU, BERT's "gelu"
            x = self._norm(x + self._linear(mid, pre + "output.dense"), pre + "output.LayerNorm")
        return x
