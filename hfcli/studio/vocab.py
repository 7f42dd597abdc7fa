"""The studio vocabulary (10 + 4 shapes, named colours, 7 finishes) and the prompt parser.

The shapes and the 8 base colours are the HyperFields paper's, so our numbers compare with it;
the other colours are CSS's (hfcli/studio/colours.py). The splits are in hfcli/studio/split.py.

The studio renders only its vocabulary, so the parser is forgiving about *form* (case,
punctuation, word order, articles, plurals, "forest green" for "forestgreen", "knitted" for
"yarn") and strict about *content*: every word that is neither a shape, a colour, a finish
nor a filler is reported back by name.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from hfcli.errors import PromptError
from hfcli.text import MAX_PROMPT_CHARS

from .colours import COLOURS, NEAR_WHITE_NAMES, PAPER_COLOURS, canonical_colour, colour_words

# ----------------------------------------------------------------------------- vocabulary

# In-distribution shapes; the order defines the splits (split.py) and the prompt-file order.
SHAPES: tuple[str, ...] = (
    "chair",
    "pot",
    "toaster",
    "bench",
    "stool",
    "bowl",
    "vase",
    "skateboard",
    "knife",
    "plate",
)
# Out-of-distribution shapes for the finetune benchmark: never in the default model's training.
OOD_SHAPES: tuple[str, ...] = ("mug", "table", "lamp", "donut")
ALL_SHAPES: tuple[str, ...] = SHAPES + OOD_SHAPES

# The paper's 8 colours, in the order the old split indexes them; COLOURS has every name.
COLOUR_NAMES: tuple[str, ...] = tuple(PAPER_COLOURS)

# Surface finishes: procedural patterns in object space (hfcli/studio/finishes.py) that modulate
# the colour. "plain" is the paper's uniform colour.
FINISHES: tuple[str, ...] = ("plain", "striped", "checkered", "dotted", "yarn", "plaid", "marbled")
# A finish's own colour, for a prompt that names none ("a yarn bowl": natural wool).
FINISH_COLOURS: dict[str, tuple[float, float, float]] = {
    "plain": (0.55, 0.55, 0.55),  # a neutral mid grey
    "striped": (0.20, 0.30, 0.60),
    "checkered": (0.70, 0.15, 0.15),
    "dotted": (0.15, 0.45, 0.45),
    "yarn": (0.78, 0.68, 0.52),  # undyed wool
    "plaid": (0.85, 0.28, 0.22),  # light enough that crossing bands (x0.38) still read
    "marbled": (0.72, 0.72, 0.70),
}


@dataclass(frozen=True)
class StudioPrompt:
    """One studio scene: a shape from ALL_SHAPES, a colour from COLOURS (None: the finish's own
    colour) and a finish from FINISHES."""

    shape: str
    colour: str | None = None
    finish: str = "plain"

    @property
    def albedo(self) -> tuple[float, float, float]:
        """The base colour the finish's pattern modulates."""
        return COLOURS[self.colour] if self.colour is not None else FINISH_COLOURS[self.finish]

    @property
    def text(self) -> str:
        """The canonical prompt, e.g. "a yellow chair", "a red yarn bowl", "a yarn bowl";
        parse_prompt(p.text) == p."""
        colour = colour_words(self.colour) if self.colour is not None else None
        words = [w for w in (colour, None if self.finish == "plain" else self.finish, self.shape) if w]
        article = "an" if words[0][0] in "aeiou" else "a"
        return f"{article} {' '.join(words)}"


# ----------------------------------------------------------------------------- the parser

# Words that carry no meaning for the studio. Kept small on purpose: a word that could
# change the scene ("wooden", "tall", "two") is not a filler and must be reported.
FILLERS = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "in",
        "with",
        "made",
        "from",
        "out",
        "colour",
        "color",
        "coloured",
        "colored",
        "pattern",
        "patterned",
        "3d",
        "model",
        "render",
        "object",
        # framing and style words users add (hfcli/studio/wording.py): they describe the
        # picture, not the object
        "one",
        "photo",
        "image",
        "picture",
        "rendering",
        "studio",
        "lighting",
        "high",
        "quality",
        "detailed",
        "product",
        "shot",
    }
)
# Spelling variants that name the same thing. Honest ones only: no near-synonyms
# ("seat" is not a chair, "woollen" is not knitted).
SYNONYMS = {"doughnut": "donut", "knives": "knife"}
FINISH_SYNONYMS = {
    "stripy": "striped",
    "stripey": "striped",
    "stripe": "striped",
    "stripes": "striped",
    "checked": "checkered",
    "chequered": "checkered",
    "checker": "checkered",
    "checkers": "checkered",
    "checkerboard": "checkered",
    "chequerboard": "checkered",
    "dots": "dotted",
    "dot": "dotted",
    "spotted": "dotted",
    "spotty": "dotted",
    "spots": "dotted",
    "polkadot": "dotted",
    "polkadots": "dotted",
    "polkadotted": "dotted",
    "knitted": "yarn",
    "knit": "yarn",
    "tartan": "plaid",
    "marble": "marbled",
}
# Phrases that are not simply their words run together (those are merged by _tokens).
PHRASES = {("mint", "green"): "mint"}
# Run-together words _tokens may form: "forest green" -> "forestgreen", "polka dot", "skate board".
_JOINABLE = frozenset(COLOURS) | set(NEAR_WHITE_NAMES) | set(ALL_SHAPES) | set(FINISH_SYNONYMS)
_MAX_JOINED = 4  # "light golden rod yellow": the longest CSS name, split as a user might

_SHOWN_CHARS = 80  # how much of the prompt an error message echoes
_FORM = "'[colour] [finish] <shape>'"


def _shown(text: str) -> str:
    one_line = _printable(" ".join(text.split()))
    if len(one_line) > _SHOWN_CHARS:
        one_line = one_line[: _SHOWN_CHARS - 1] + "…"
    return f"'{one_line}'"


def _tokens(text: str) -> list[str]:
    """Lower-case words; punctuation is a separator ("3-D" stays one word); consecutive words
    that run together into a vocabulary word become it, the longest run first."""
    text = re.sub(r"\b3-d\b", "3d", text.lower())
    words = _words(text)
    merged: list[str] = []
    i = 0
    while i < len(words):
        for n in range(min(_MAX_JOINED, len(words) - i), 1, -1):
            run = words[i : i + n]
            joined = PHRASES.get(tuple(run)) or "".join(run)
            if tuple(run) in PHRASES or joined in _JOINABLE or _singular(joined) in ALL_SHAPES:
                merged.append(joined)
                i += n
                break
        else:
            merged.append(words[i])
            i += 1
    return merged


def _words(text: str) -> list[str]:
    """Runs of letters and digits of any script (with their combining marks) are words, so
    'chäir' or '椅子' is reported by name rather than dropped or cut in two; spaces and
    punctuation separate; any other character (an emoji, a control character such as NUL) is a
    word of its own, reported too."""
    words: list[str] = []
    current: list[str] = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch.isalnum() or (category.startswith("M") and current):
            current.append(ch)
            continue
        if current:
            words.append("".join(current))
            current = []
        if not (ch.isspace() or category.startswith("P") or (ch.isascii() and ch.isprintable())):
            words.append(ch)
    if current:
        words.append("".join(current))
    return words


def _printable(text: str) -> str:
    """Characters a terminal would not show (NUL, other controls) as U+XXXX."""
    return "".join(c if c.isprintable() or c == " " else f"U+{ord(c):04X}" for c in text)


def _singular(word: str) -> str:
    """Map a word to a vocabulary word where it is a plural or spelling variant of one."""
    word = SYNONYMS.get(word, word)
    if word in ALL_SHAPES:
        return word
    for suffix in ("es", "s"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and SYNONYMS.get(stem, stem) in ALL_SHAPES:
            return SYNONYMS.get(stem, stem)
    return word


def _quoted(words: list[str]) -> str:
    return ", ".join(f"'{_printable(w)}'" for w in words)


def parse_prompt(text: str) -> StudioPrompt:
    """Parse a free-form prompt ("Red chair.", "a bowl made of yarn", "a forest green striped
    pot") into a shape, an optional colour (None: the finish's own) and a finish ("plain" when
    none is named).

    Raises PromptError (one line) for an empty or over-long prompt, a missing shape, more than
    one shape, colour or finish, or words outside the vocabulary, naming the words it did not
    understand.
    """
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptError(f"prompt is {len(text)} characters long; the limit is {MAX_PROMPT_CHARS}")
    words = _tokens(text)
    if not words:  # blank, or punctuation only
        raise PromptError(f"empty prompt; write {_FORM}, e.g. 'a red chair' or 'a yarn bowl'")

    shapes: list[str] = []
    colours: list[str] = []
    finishes: list[str] = []
    too_white: list[str] = []
    unknown: list[str] = []
    for word in words:
        word = _singular(word)
        finish = FINISH_SYNONYMS.get(word, word)
        if word in ALL_SHAPES:
            shapes.append(word)
        elif canonical_colour(word) in COLOURS:
            colours.append(canonical_colour(word))
        elif finish in FINISHES:
            finishes.append(finish)
        elif word in NEAR_WHITE_NAMES:
            too_white.append(word)
        elif word not in FILLERS:
            unknown.append(word)
    # Repeats name one thing: "red chair, a chair"; "a knitted yarn bowl".
    shapes, colours, finishes = (list(dict.fromkeys(xs)) for xs in (shapes, colours, finishes))
    unknown = list(dict.fromkeys(unknown + too_white))

    shown = _shown(text)
    note = f" (did not understand {_quoted(unknown)})" if unknown else ""
    for kind, found in (("shape", shapes), ("colour", colours), ("finish", finishes)):
        if len(found) > 1:
            raise PromptError(f"more than one {kind} ({_quoted(found)}) in {shown}; the studio renders one{note}")
    if not shapes:
        raise PromptError(f"no shape word in {shown}{note}; known shapes: {', '.join(ALL_SHAPES)}")
    if too_white:
        raise PromptError(
            f"{_quoted(too_white)} in {shown} is too close to the studio's white background to "
            "render; choose a darker colour"
        )
    if unknown:
        raise PromptError(
            f"did not understand {_quoted(unknown)} in {shown}; the studio knows only {_FORM} "
            f"(colours: {', '.join(COLOUR_NAMES)} or a CSS colour name; finishes: {', '.join(FINISHES)}; "
            f"shapes: {', '.join(ALL_SHAPES)})"
        )
    return StudioPrompt(
        shape=shapes[0], colour=colours[0] if colours else None, finish=finishes[0] if finishes else "plain"
    )


def shape_words(text: str) -> set[str]:
    """The vocabulary shapes a free-form prompt names (plurals and variants included)."""
    return {w for w in map(_singular, _tokens(text)) if w in ALL_SHAPES}


def learned_shapes(trained_prompts: list[str]) -> set[str]:
    """The vocabulary shapes a model's training prompts name (empty outside the studio)."""
    return set().union(*map(shape_words, trained_prompts))


def unlearned_shape_note(prompt: str, learned: set[str]) -> str | None:
    """A one-line note when `prompt` names none of the `learned` shapes, else None. A model
    trained outside the studio vocabulary (nothing learned) has nothing to compare with: None."""
    if not learned or shape_words(prompt) & learned:
        return None
    return (
        f"note: {_shown(prompt)} names none of the shapes this model learned ({', '.join(sorted(learned))}); "
        "the mesh is its best guess. For a new shape, refine it with `hf finetune --guidance sd`."
    )
