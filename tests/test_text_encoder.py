"""TextEncoder: the plain-torch BERT path matches transformers, falls back cleanly, and stays light."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hfcli import text
from hfcli.bert import BertConfig, UnsupportedModel
from hfcli.errors import HfcliError
from hfcli.text import BUNDLED_ID, MAX_TOKENS, TextEncoder, TokenStates, resolve_encoder_path

BUNDLED = resolve_encoder_path(BUNDLED_ID)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
PROMPTS = [
    "a red chair",
    "  A Small Wooden TABLE with four legs, painted blue  ",
    "chair",
    # 60+ word pieces: truncated to MAX_TOKENS, [SEP] kept last
    (
        "a tall ornate victorian grandfather clock with a brass pendulum, carved walnut casing, roman numerals, "
        "a glass door, gilded finials on top, and a faded ivory dial showing quarter past three in the afternoon"
    ),
    "über-crème brûlée 🍮 in a ceramic ramekin",
]


def _reference(path: Path, prompts: list[str]) -> TokenStates:
    """What the former transformers-only TextEncoder produced."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    batch = tokenizer(
        [p.strip() for p in prompts], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
    )
    with torch.no_grad():
        states = torch.nn.functional.normalize(model(**batch).last_hidden_state, dim=-1)
    mask = batch["attention_mask"].bool()
    return TokenStates(states * mask[..., None], mask)


def _assert_same(got: TokenStates, want: TokenStates) -> None:
    assert torch.equal(got.mask, want.mask)
    assert got.states.shape == want.states.shape
    assert (got.states - want.states).abs().max().item() <= 1e-5


@pytest.fixture
def fast_only(monkeypatch):
    """Fail the test if the transformers fallback is taken."""

    def refuse(*_):
        raise AssertionError("took the transformers path")

    monkeypatch.setattr(text, "_load_transformers", refuse)


def _tiny_dir(tmp_path: Path, model_cls: str = "BertModel", **overrides) -> Path:
    """A randomly initialised 2-layer BERT (with the bundled tokenizer) saved the way transformers saves it."""
    import transformers

    cfg = dict(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=40,
        type_vocab_size=3,
        layer_norm_eps=1e-5,
    )
    torch.manual_seed(1)
    model = getattr(transformers, model_cls)(transformers.BertConfig(**{**cfg, **overrides}))
    with torch.no_grad():  # default init leaves LayerNorms at 1/0 and biases at 0: perturb so every tensor matters
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    out = tmp_path / "tiny"
    model.save_pretrained(out)  # model.safetensors
    for name in TOKENIZER_FILES:
        shutil.copy(BUNDLED / name, out)
    return out


def test_bundled_matches_transformers(fast_only):
    encoder = TextEncoder()
    assert encoder.dim == 384 and encoder.device == torch.device("cpu") and encoder.encoder_id == BUNDLED_ID
    got = encoder.encode(PROMPTS)
    assert got.mask.shape == (len(PROMPTS), MAX_TOKENS) and got.mask[3].all() and not got.mask[2].all()
    _assert_same(got, _reference(BUNDLED, PROMPTS))
    _assert_same(encoder.encode(PROMPTS[2:3]), _reference(BUNDLED, PROMPTS[2:3]))  # no padding at all


@pytest.mark.parametrize("model_cls", ["BertModel", "BertForMaskedLM"])  # the latter nests weights under "bert."
def test_tiny_random_bert_matches_transformers(tmp_path, fast_only, model_cls):
    path = _tiny_dir(tmp_path, model_cls)
    encoder = TextEncoder(str(path))
    assert encoder.dim == 32
    _assert_same(encoder.encode(PROMPTS), _reference(path, PROMPTS))


def test_bert_without_safetensors_falls_back_to_transformers(tmp_path):
    path = _tiny_dir(tmp_path)
    weights = path / "model.safetensors"
    torch.save(load_file(weights), path / "pytorch_model.bin")
    weights.unlink()
    _assert_same(TextEncoder(str(path)).encode(PROMPTS), _reference(path, PROMPTS))


def test_bert_variant_falls_back_to_transformers(tmp_path):
    path = _tiny_dir(tmp_path, hidden_act="relu")
    with pytest.raises(UnsupportedModel, match="relu"):
        BertConfig.from_dir(path)
    _assert_same(TextEncoder(str(path)).encode(PROMPTS), _reference(path, PROMPTS))


def test_non_bert_config(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_embd": 48}))
    with pytest.raises(UnsupportedModel, match="gpt2"):
        BertConfig.from_dir(tmp_path)
    with pytest.raises(HfcliError, match="cannot load text encoder"):  # transformers finds no weights
        TextEncoder(str(tmp_path))


def test_non_bert_model_falls_back_to_transformers(tmp_path):
    import transformers

    config = transformers.GPT2Config(vocab_size=30522, n_embd=48, n_layer=1, n_head=4, n_positions=40)
    transformers.GPT2Model(config).save_pretrained(tmp_path)
    for name in TOKENIZER_FILES:  # tokenizer.json + model.safetensors: looks like the fast path's files, is not
        shutil.copy(BUNDLED / name, tmp_path)
    encoder = TextEncoder(str(tmp_path))
    assert encoder.dim == 48
    _assert_same(encoder.encode(PROMPTS), _reference(tmp_path, PROMPTS))


def test_not_a_model_directory(tmp_path):
    with pytest.raises(HfcliError, match="no config.json"):
        TextEncoder(str(tmp_path))


def test_damaged_weights(tmp_path):
    path = _tiny_dir(tmp_path)
    config = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    with pytest.raises(HfcliError, match="cannot load text encoder .*encoder.layer.2"):
        TextEncoder(str(path))
    (path / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(HfcliError, match="cannot load text encoder"):
        TextEncoder(str(path))


def test_fast_path_does_not_import_transformers():
    code = (
        "import sys; from hfcli.text import TextEncoder; TextEncoder().encode(['a red chair']); "
        "print('transformers' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "False", out.stderr
