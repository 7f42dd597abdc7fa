"""The studio vocabulary (10 + 4 shapes, 8 colours), the zero-shot split, and the prompt parser.

The shapes and colours are the HyperFields paper's, so our numbers compare with it. The split
is fixed by index arithmetic (docs/ARCHITECTURE.md, "The studio vocabulary and the zero-shot split"):
shape i trains colours (i + k) mod 8 for k = 0..4 and holds out the other three.

The studio renders only its vocabulary, so the parser is forgiving about *form* (case,
punctuation, word order, articles, plurals) and strict about *content*: every word that is
neither a shape, a colour nor a filler is reported back by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hfcli.errors import PromptError
from hfcli.text import MAX_PROMPT_CHARS

# ----------------------------------------------------------------------------- vocabulary

# In-distribution shapes; the order defines the split below and the prompt-file order.
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

# sRGB albedos in [0, 1]. Chosen to be far apart from each other and from the white
# background, so a wrong colour is a measurable error rather than a shade difference.
COLOURS: dict[str, tuple[float, float, float]] = {
    "yellow": (0.95, 0.80, 0.10),
    "green": (0.15, 0.60, 0.20),
    "orange": (0.95, 0.48, 0.08),
    "purple": (0.50, 0.22, 0.70),
    "mint": (0.55, 0.90, 0.72),
    "blue": (0.15, 0.35, 0.85),
    "red": (0.85, 0.10, 0.12),
    "pink": (0.97, 0.50, 0.72),
}
COLOUR_NAMES: tuple[str, ...] = tuple(COLOURS)

TEACHER_COLOURS_PER_SHAPE = 5  # k = 0..4 in the split rule


# ----------------------------------------------------------------------------- the split


def _shape_index(shape: str) -> int:
    if shape in OOD_SHAPES:
        raise ValueError(f"{shape!r} is an out-of-distribution shape: it has no teacher colours")
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}; known shapes: {', '.join(SHAPES)}")
    return SHAPES.index(shape)


def teacher_colours(shape: str) -> list[str]:
    """The 5 colours shape i trains on: colour (i + k) mod 8 for k = 0..4, in that k order."""
    i = _shape_index(shape)
    n = len(COLOUR_NAMES)
    return [COLOUR_NAMES[(i + k) % n] for k in range(TEACHER_COLOURS_PER_SHAPE)]


def heldout_colours(shape: str) -> list[str]:
    """The 3 colours a shape never trains on (zero-shot), in colour order."""
    train = set(teacher_colours(shape))
    return [c for c in COLOUR_NAMES if c not in train]


@dataclass(frozen=True)
class StudioPrompt:
    """One studio scene: a shape from ALL_SHAPES in a colour from COLOURS."""

    shape: str
    colour: str

    @property
    def text(self) -> str:
        """The canonical prompt, e.g. "a yellow chair"; parse_prompt(p.text) == p."""
        article = "an" if self.colour[0] in "aeiou" else "a"
        return f"{article} {self.colour} {self.shape}"


def train_prompts() -> list[StudioPrompt]:
    """The 50 teacher prompts, in shape order then k order."""
    return [StudioPrompt(s, c) for s in SHAPES for c in teacher_colours(s)]


def heldout_prompts() -> list[StudioPrompt]:
    """The 30 zero-shot prompts, in shape order then colour order."""
    return [StudioPrompt(s, c) for s in SHAPES for c in heldout_colours(s)]


def ood_prompts() -> list[StudioPrompt]:
    """OOD shape j in colours (j, j+3, j+6) mod 8: 4 shapes x 3 colours."""
    n = len(COLOUR_NAMES)
    return [StudioPrompt(s, COLOUR_NAMES[(j + 3 * m) % n]) for j, s in enumerate(OOD_SHAPES) for m in range(3)]


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
        "colour",
        "color",
        "coloured",
        "colored",
        "3d",
        "model",
        "render",
        "object",
    }
)
# Spelling variants that name the same thing. Honest ones only: no near-synonyms
# ("seat" is not a chair, "grey" is not a colour of ours).
SYNONYMS = {"doughnut": "donut", "knives": "knife"}
BIGRAMS = {("skate", "board"): "skateboard", ("mint", "green"): "mint"}

_SHOWN_CHARS = 80  # how much of the prompt an error message echoes


def _shown(text: str) -> str:
    one_line = " ".join(text.split())
    if len(one_line) > _SHOWN_CHARS:
        one_line = one_line[: _SHOWN_CHARS - 1] + "…"
    return f"'{one_line}'"


def _tokens(text: str) -> list[str]:
    """Lower-case words; punctuation is a separator ("3-D" stays one word)."""
    text = re.sub(r"\b3-d\b", "3d", text.lower())
    words = re.sub(r"[^a-z0-9]+", " ", text).split()
    merged: list[str] = []
    for w in words:
        if merged and (merged[-1], w) in BIGRAMS:
            merged[-1] = BIGRAMS[(merged[-1], w)]
        else:
            merged.append(w)
    return merged


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
    return ", ".join(f"'{w}'" for w in words)


def parse_prompt(text: str) -> StudioPrompt:
    """Parse a free-form prompt ("Red chair.", "a chair, red") into one shape and one colour.

    Raises PromptError (one line) for an empty or over-long prompt, a missing or conflicting
    shape or colour, or words outside the vocabulary, naming the words it did not understand.
    """
    if len(text) > MAX_PROMPT_CHARS:
        raise PromptError(f"prompt is {len(text)} characters long; the limit is {MAX_PROMPT_CHARS}")
    words = _tokens(text)
    if not words:  # blank, or punctuation only
        raise PromptError("empty prompt; write a colour and a shape, e.g. 'a red chair'")

    shapes: list[str] = []
    colours: list[str] = []
    unknown: list[str] = []
    for word in words:
        word = _singular(word)
        if word in ALL_SHAPES:
            shapes.append(word)
        elif word in COLOURS:
            colours.append(word)
        elif word not in FILLERS:
            unknown.append(word)
    shapes = list(dict.fromkeys(shapes))  # "red chair, a chair" names one chair
    colours = list(dict.fromkeys(colours))
    unknown = list(dict.fromkeys(unknown))

    shown = _shown(text)
    note = f" (did not understand {_quoted(unknown)})" if unknown else ""
    if len(shapes) > 1:
        raise PromptError(f"more than one shape ({_quoted(shapes)}) in {shown}; the studio renders one{note}")
    if len(colours) > 1:
        raise PromptError(f"more than one colour ({_quoted(colours)}) in {shown}; the studio renders one{note}")
    if not shapes:
        raise PromptError(f"no shape word in {shown}{note}; known shapes: {', '.join(ALL_SHAPES)}")
    if not colours:
        raise PromptError(f"no colour word in {shown}{note}; known colours: {', '.join(COLOUR_NAMES)}")
    if unknown:
        raise PromptError(
            f"did not understand {_quoted(unknown)} in {shown}; the studio knows only "
            f"'<colour> <shape>' (colours: {', '.join(COLOUR_NAMES)}; shapes: {', '.join(ALL_SHAPES)})"
        )
    return StudioPrompt(shape=shapes[0], colour=colours[0])


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
