"""Issue 18, item 9: the studio prompt parser names what it does not understand, whatever the
characters (other scripts, emoji, NUL); a property test over arbitrary text, bounded in time."""

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hfcli.errors import PromptError
from hfcli.studio.vocab import StudioPrompt, parse_prompt


@pytest.mark.parametrize(
    "prompt, named",
    [
        ("a red chair 椅子", "'椅子'"),
        ("a red chäir", "'chäir'"),  # one word, not 'ch' and 'ir'
        ("a red 🪑 chair", "'🪑'"),
        ("a red\x00 chair", "'U+0000'"),
        ("красный chair", "'красный'"),
    ],
)
def test_the_parser_names_non_latin_words_emoji_and_nul(prompt, named):
    with pytest.raises(PromptError) as info:
        parse_prompt(prompt)
    message = str(info.value)
    assert named in message, message
    assert message.isprintable(), repr(message)  # a NUL is shown as U+0000, never written out


def test_form_is_still_forgiven():
    assert parse_prompt("A Red, chair!") == StudioPrompt("chair", "red", "plain")
    assert parse_prompt("a forest-green «striped» pot…") == StudioPrompt("pot", "forestgreen", "striped")


def _named_back(ch: str) -> bool:
    """Characters the parser must name back rather than read past: all but spaces, punctuation
    and printable ASCII."""
    return not (ch.isspace() or unicodedata.category(ch).startswith("P") or (ch.isascii() and ch.isprintable()))


WORDS = st.sampled_from(["a", "red", "chair", "yarn", "bowl", "forest", "green", "striped", "the", "of"])
TEXT = st.lists(WORDS | st.text(max_size=4), max_size=6).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_any_text_is_parsed_or_refused_in_one_printable_line(text):
    try:
        prompt = parse_prompt(text)
    except PromptError as err:
        message = str(err)
        assert "\n" not in message and message.isprintable(), repr(message)
        return
    assert not any(_named_back(ch) for ch in text), (text, prompt)  # nothing was read past
    assert parse_prompt(prompt.text) == prompt  # what it understood reads back the same
