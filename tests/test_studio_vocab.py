"""The studio vocabulary: the zero-shot split, the prompt parser, and the prompt files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hfcli.errors import PromptError
from hfcli.studio.vocab import (
    COLOURS,
    OOD_SHAPES,
    SHAPES,
    StudioPrompt,
    heldout_colours,
    heldout_prompts,
    ood_prompts,
    parse_prompt,
    teacher_colours,
    train_prompts,
)

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


def _read_prompt_file(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


# ----------------------------------------------------------------------------- split


def test_split_covers_all_80_combinations_disjointly():
    train = {(p.shape, p.colour) for p in train_prompts()}
    held = {(p.shape, p.colour) for p in heldout_prompts()}
    assert len(train_prompts()) == len(train) == 50
    assert len(heldout_prompts()) == len(held) == 30
    assert not train & held
    assert train | held == {(s, c) for s in SHAPES for c in COLOURS}


def test_chair_trains_yellow_to_mint_and_holds_out_blue_red_pink():
    assert teacher_colours("chair") == ["yellow", "green", "orange", "purple", "mint"]
    assert heldout_colours("chair") == ["blue", "red", "pink"]
    # The rule wraps around: the plate (index 9) starts at colour 9 mod 8 = green.
    assert teacher_colours("plate") == ["green", "orange", "purple", "mint", "blue"]


def test_every_colour_is_trained_on_and_held_out_somewhere():
    # Zero-shot means an unseen (shape, colour) pair, not an unseen colour: every colour is
    # trained with 5 to 7 shapes and held out with the others.
    for colour in COLOURS:
        trained = sum(colour in teacher_colours(s) for s in SHAPES)
        held = sum(colour in heldout_colours(s) for s in SHAPES)
        assert 5 <= trained <= 7 and trained + held == len(SHAPES)


@pytest.mark.parametrize("shape", OOD_SHAPES + ("spoon",))
def test_split_rejects_ood_and_unknown_shapes(shape):
    with pytest.raises(ValueError):
        teacher_colours(shape)
    with pytest.raises(ValueError):
        heldout_colours(shape)


def test_colours_are_distinct_and_not_white():
    rgbs = list(COLOURS.values())
    assert all(0.0 <= v <= 1.0 for rgb in rgbs for v in rgb)
    for i, a in enumerate(rgbs):
        assert sum((x - 1.0) ** 2 for x in a) ** 0.5 > 0.3, "too close to the white background"
        for b in rgbs[i + 1 :]:
            assert sum((x - y) ** 2 for x, y in zip(a, b)) ** 0.5 > 0.2


# ----------------------------------------------------------------------------- parser


@pytest.mark.parametrize(
    "text",
    [
        "a red chair",
        "Red chair.",
        "a chair, red",
        "CHAIR red",
        "red chairs",
        "The chair in red!",
        "a 3D model of a red chair",
        "a red-coloured chair",
        "  a   red\tchair  ",
        "chair, red, chair",
    ],
)
def test_parser_is_forgiving(text):
    assert parse_prompt(text) == StudioPrompt("chair", "red")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("benches in blue", StudioPrompt("bench", "blue")),
        ("two knives"[4:] + " pink", StudioPrompt("knife", "pink")),
        ("a pink doughnut", StudioPrompt("donut", "pink")),
        ("an orange skate board", StudioPrompt("skateboard", "orange")),
        ("a mint-green vase", StudioPrompt("vase", "mint")),
        ("A GREEN MUG", StudioPrompt("mug", "green")),
    ],
)
def test_parser_plurals_synonyms_and_ood_shapes(text, expected):
    assert parse_prompt(text) == expected


def test_canonical_prompts_round_trip():
    for p in train_prompts() + heldout_prompts() + ood_prompts():
        assert parse_prompt(p.text) == p
    assert StudioPrompt("chair", "yellow").text == "a yellow chair"


@pytest.mark.parametrize(
    "text, words",
    [
        ("", ["empty"]),
        ("   .  ", ["empty"]),
        ("a red " + "very " * 300 + "chair", ["1000"]),
        ("a red thing", ["no shape", "'thing'", "chair", "pot"]),
        ("a chair", ["no colour", "yellow"]),
        ("a fluffy wooden chair", ["'fluffy'", "'wooden'"]),
        ("a fluffy red chair", ["did not understand 'fluffy'"]),
        ("a red chair and a blue pot", ["'chair'", "'pot'"]),
        ("a red blue chair", ["'red'", "'blue'"]),
        ("a grey seat", ["'grey'", "'seat'"]),
    ],
)
def test_parser_errors_name_the_problem(text, words):
    with pytest.raises(PromptError) as info:
        parse_prompt(text)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message


# ----------------------------------------------------------------------------- prompt files


def test_prompt_files_match_the_split():
    for shape in SHAPES:
        assert _read_prompt_file(PROMPTS_DIR / f"{shape}.txt") == [
            StudioPrompt(shape, c).text for c in teacher_colours(shape)
        ]
    assert _read_prompt_file(PROMPTS_DIR / "train.txt") == [p.text for p in train_prompts()]
    assert _read_prompt_file(PROMPTS_DIR / "heldout.txt") == [p.text for p in heldout_prompts()]
    ood = [parse_prompt(t) for t in _read_prompt_file(PROMPTS_DIR / "ood.txt")]
    assert len(ood) == 12 and {p.shape for p in ood} == set(OOD_SHAPES)
    for path in PROMPTS_DIR.glob("*.txt"):
        assert path.read_text(encoding="utf-8").startswith("# ")


def test_shape_words_and_the_unlearned_shape_note():
    from hfcli.studio.vocab import learned_shapes, shape_words, unlearned_shape_note

    assert shape_words("Two red Chairs and a doughnut!") == {"chair", "donut"}
    assert shape_words("a yarn basket") == set()
    trained = learned_shapes(["a red chair", "a blue bowl"])
    assert unlearned_shape_note("a yarn bowl", trained) is None  # a learned shape, any other words
    note = unlearned_shape_note("a green mug", trained)
    assert note is not None and "(bowl, chair)" in note and "hf finetune --guidance sd" in note
    assert unlearned_shape_note("a cat", learned_shapes(["a photo of a dog"])) is None  # no studio shapes to compare
