"""Wording augmentation (hfcli/studio/wording.py, --reword): every wording names the same
scene, the held-out wordings use words training never reads, and a step reads each scene in
one of its own wordings."""

from pathlib import Path

import pytest
import torch

from hfcli.studio import wording
from hfcli.studio.vocab import parse_prompt
from hfcli.text import TextEncoder, TokenStates
from hfcli.train.fit import _encode
from hfcli.train.objectives import HyperObjective

WORLD = Path(__file__).resolve().parents[1] / "prompts" / "world"


def world_prompts() -> list[str]:
    files = ("train.txt", "zeroshot.txt", "colours_heldout.txt", "ood_finishes.txt")
    return [line for f in files for line in (WORLD / f).read_text().splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("templates", [wording.TRAINING, wording.HELD_OUT], ids=["training", "held-out"])
def test_every_wording_of_every_world_prompt_is_the_same_scene(templates):
    prompts = world_prompts()
    assert len(prompts) > 400 and len(templates) >= 5
    for prompt in prompts:
        scene = parse_prompt(prompt)
        for worded in wording.reword(prompt, templates):
            assert worded != prompt or templates is wording.TRAINING
            assert parse_prompt(worded) == scene, (prompt, worded)


def test_held_out_wordings_add_words_training_never_reads():
    def added(templates) -> set[str]:
        prompt = "a red striped bowl"
        words = {w.strip(",.").lower() for t in wording.reword(prompt, templates) for w in t.split()}
        return words - {"a", "an", "red", "striped", "bowl", "of"}

    assert added(wording.HELD_OUT) and not added(wording.HELD_OUT) & added(wording.TRAINING)


def _objective(n_prompts: int, k: int, reword: float) -> HyperObjective:
    """An objective whose token rows say which prompt and wording they are: row value = index."""
    rows = torch.arange(n_prompts * (k + 1), dtype=torch.float32)[:, None, None].expand(-1, 2, 3).clone()
    mask = torch.ones(len(rows), 2, dtype=torch.bool)
    tokens, reworded = TokenStates(rows[:n_prompts], mask[:n_prompts]), TokenStates(rows[n_prompts:], mask[n_prompts:])
    objective = HyperObjective.__new__(HyperObjective)
    objective.tokens, objective.reworded, objective.reword = tokens, reworded, reword
    return objective


def test_a_step_reads_each_scene_in_one_of_its_own_wordings():
    n, k, scenes = 7, 4, [0, 3, 6]
    gen = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(50):
        got = _objective(n, k, reword=1.0)._wordings(scenes, gen).states[:, 0, 0].long().tolist()
        for scene, row in zip(scenes, got):
            assert row >= n and (row - n) % n == scene  # a reworded row of the same prompt
            seen.add((row - n) // n)
    assert seen == set(range(k))  # every wording gets its turn
    plain = _objective(n, k, reword=0.0)._wordings(scenes, gen).states[:, 0, 0].long().tolist()
    assert plain == scenes
    half = [_objective(n, k, reword=0.5)._wordings(scenes, gen).states[:, 0, 0] >= n for _ in range(200)]
    assert 0.4 < float(torch.stack(half).float().mean()) < 0.6


def test_reworded_rows_are_the_training_wordings_template_major():
    encoder = TextEncoder()
    prompts = ["a red bowl", "an orange striped chair"]
    tokens, reworded = _encode(encoder, prompts, reword=0.5)
    assert reworded.states.shape[0] == len(prompts) * len(wording.TRAINING)
    for k, template in enumerate(wording.TRAINING.values()):
        for i, prompt in enumerate(prompts):
            alone = encoder.encode([template(prompt)])
            length = int(alone.mask.sum())
            row = reworded.select([k * len(prompts) + i])
            assert int(row.mask.sum()) == length
            torch.testing.assert_close(row.states[0, :length], alone.states[0, :length], atol=1e-5, rtol=1e-4)
    assert _encode(encoder, prompts, reword=0.0)[1] is None
