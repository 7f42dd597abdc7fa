"""The world's split (hfcli/studio/split.py): counts, disjointness, coverage, the unseen-kind
grouping, and the prompt files under prompts/world/."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

from hfcli.studio.split import (
    CSS_TRAIN_COLOURS,
    HELDOUT_COLOURS,
    OOD_FINISHES,
    PATTERNS,
    TRAIN_COLOURS,
    TRAINED_FINISHES,
    heldout_colour_prompts,
    heldout_finish,
    heldout_prompts,
    ood_finish_prompts,
    ood_prompts,
    train_prompts,
    trained_finishes,
    unseen_kind,
    world_train_prompts,
    world_zero_shot_prompts,
)
from hfcli.studio.vocab import COLOURS, SHAPES, StudioPrompt, parse_prompt

ROOT = Path(__file__).resolve().parent.parent


def _words(p: StudioPrompt) -> set[tuple[str, str]]:
    return {("shape", p.shape), ("finish", p.finish)} | ({("colour", p.colour)} if p.colour else set())


@pytest.fixture(scope="module")
def train() -> list[StudioPrompt]:
    return world_train_prompts()


def test_counts_and_no_duplicates(train):
    sets = [train, world_zero_shot_prompts(), heldout_colour_prompts(), ood_finish_prompts()]
    assert [len(s) for s in sets] == [330, 120, 36, 20]
    assert all(len(set(s)) == len(s) for s in sets)
    assert {p.shape for p in train} == set(SHAPES)
    assert {p.finish for p in train} == set(TRAINED_FINISHES)
    assert {p.colour for p in train} == set(TRAIN_COLOURS) | {None}


def test_the_papers_split_is_inside_the_worlds(train):
    assert set(train_prompts()) <= set(train)
    assert set(heldout_prompts()) <= set(world_zero_shot_prompts())


def test_zero_shot_is_unseen_combinations_of_trained_words(train):
    zero_shot = world_zero_shot_prompts()
    assert not set(zero_shot) & set(train)
    trained_words = set().union(*map(_words, train))
    for p in zero_shot:
        assert _words(p) <= trained_words, p
        assert unseen_kind(p, train) == "combination"


def test_a_yarn_bowl_is_zero_shot(train):
    assert parse_prompt("a yarn bowl") in world_zero_shot_prompts()
    assert heldout_finish("bowl") == "yarn"
    assert not [p for p in train if (p.shape, p.finish) == ("bowl", "yarn")]
    assert len({p.shape for p in train if p.finish == "yarn"}) >= 3
    assert {p.finish for p in train if p.shape == "bowl"} == {"plain", "striped", "checkered", "dotted"}


def test_each_shape_holds_out_one_whole_pattern(train):
    for shape in SHAPES:
        finishes = {p.finish for p in train if p.shape == shape}
        assert finishes == set(trained_finishes(shape)) == set(TRAINED_FINISHES) - {heldout_finish(shape)}
    # Every pattern is held out on 2 or 3 shapes and trained on the rest.
    assert sorted(Counter(map(heldout_finish, SHAPES)).values()) == [2, 2, 3, 3]
    assert set(map(heldout_finish, SHAPES)) == set(PATTERNS)


def test_every_trained_colour_is_trained_widely(train):
    for colour in TRAIN_COLOURS:
        mine = [p for p in train if p.colour == colour]
        assert len(mine) >= 9 and len({p.shape for p in mine}) >= 7 and len({p.finish for p in mine}) >= 3, colour


def test_held_out_colours_are_never_trained(train):
    trained_colours = {p.colour for p in train}
    assert not set(HELDOUT_COLOURS) & trained_colours
    prompts = heldout_colour_prompts()
    assert {p.colour for p in prompts} == set(HELDOUT_COLOURS)
    trained_cells = {(p.shape, p.finish) for p in train}
    for p in prompts:
        assert (p.shape, p.finish) in trained_cells and unseen_kind(p, train) == "colour"


def test_ood_finishes_are_never_trained(train):
    prompts = ood_finish_prompts()
    assert {p.finish for p in prompts} == set(OOD_FINISHES) == {"plaid", "marbled"}
    assert {p.shape for p in prompts} == set(SHAPES)
    assert all(unseen_kind(p, train) == "finish" for p in prompts)
    assert all(unseen_kind(p, train) == "shape" for p in ood_prompts())


def test_training_colours_are_well_separated():
    rgbs = {c: COLOURS[c] for c in TRAIN_COLOURS}
    assert len(CSS_TRAIN_COLOURS) == 20
    for i, (a, x) in enumerate(rgbs.items()):
        for b, y in list(rgbs.items())[i + 1 :]:
            assert sum((u - v) ** 2 for u, v in zip(x, y)) ** 0.5 > 0.2, (a, b)


def test_unseen_kind_with_the_papers_split():
    old = train_prompts()
    assert unseen_kind(StudioPrompt("chair", "yellow"), old) == "trained"
    assert unseen_kind(StudioPrompt("chair", "red"), old) == "combination"
    assert unseen_kind(StudioPrompt("chair", "crimson"), old) == "colour"
    assert unseen_kind(StudioPrompt("chair", "red", "yarn"), old) == "finish"
    assert unseen_kind(StudioPrompt("mug", "red", "yarn"), old) == "shape"  # the coarsest first
    assert unseen_kind(StudioPrompt("chair"), old) == "combination"  # no colour word: nothing new named


def test_prompt_files_match_the_code(train):
    spec = importlib.util.spec_from_file_location("make_prompt_files", ROOT / "benchmarks" / "make_prompt_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.check(ROOT / "prompts") == []
    lines = (ROOT / "prompts" / "world" / "train.txt").read_text(encoding="utf-8").splitlines()
    assert [parse_prompt(t) for t in lines[1:]] == train
    zero_shot = (ROOT / "prompts" / "world" / "zeroshot.txt").read_text(encoding="utf-8")
    assert "\na yarn bowl\n" in zero_shot
