"""Wordings: one prompt said the ways users say it. A student trained on the canonical form
alone ("a red bowl") lost 2.43 dB on the mean of seven held-out wordings and 4.90 dB to "a
rendering of …" (BENCHMARKS.md, "Wording"); seeing reworded prompts in training is the usual
cure (wording augmentation).

Two template sets cover the same five kinds of change (articles, framing phrases, trailing
style words, word order, case) with different words: TRAINING ones reword prompts while a
student distils, HELD_OUT ones measure it on wordings it never read
(benchmarks/wording.py). Every wording of a studio prompt parses to the same scene
(tests/test_wording.py), so `hf eval` scores it against the same truth.
"""

from __future__ import annotations

from collections.abc import Callable

Template = Callable[[str], str]
ARTICLES = ("a", "an", "the")


def _split(prompt: str) -> tuple[str, list[str]]:
    """(article or "", the words after it) of a prompt such as "a red striped bowl"."""
    words = prompt.strip().split()
    if words and words[0].lower() in ARTICLES:
        return words[0], words[1:]
    return "", words


def _phrase(prompt: str) -> str:
    """The prompt without its article: "red striped bowl"."""
    return " ".join(_split(prompt)[1])


def _noun_first(prompt: str, joiner: str) -> str:
    """The noun (the last word) first, its modifiers after: "a bowl, red striped"."""
    article, words = _split(prompt)
    if len(words) < 2:
        return prompt
    noun = words[-1]
    head = "the" if article.lower() == "the" else ("an" if noun[0].lower() in "aeiou" else "a")
    return f"{head} {noun}{joiner}{' '.join(words[:-1])}"


TRAINING: dict[str, Template] = {
    "no article": _phrase,
    "the": lambda p: f"the {_phrase(p)}",
    "a photo of": lambda p: f"a photo of {p}",
    "an image of": lambda p: f"an image of {p}",
    ", 3d render": lambda p: f"{p}, 3d render",
    ", studio lighting": lambda p: f"{p}, studio lighting",
    "noun first": lambda p: _noun_first(p, ", "),
    "upper case": str.upper,
    "title case": str.title,
}

HELD_OUT: dict[str, Template] = {
    "one": lambda p: f"one {_phrase(p)}",
    "a picture of": lambda p: f"a picture of {p}",
    "a rendering of": lambda p: f"a rendering of {p}",
    ", high quality": lambda p: f"{p}, high quality",
    ", detailed product shot": lambda p: f"{p}, detailed product shot",
    "noun first (in)": lambda p: _noun_first(p, " in "),
    "sentence case, full stop": lambda p: p[:1].upper() + p[1:] + ".",
}


def reword(prompt: str, templates: dict[str, Template]) -> list[str]:
    """The prompt in every template of a set, in the set's order (duplicates kept: a prompt
    keeps one wording per template whatever its form)."""
    return [template(prompt) for template in templates.values()]
