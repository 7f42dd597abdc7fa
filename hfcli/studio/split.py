"""The studio's splits, fixed by index arithmetic and fixed lists (docs/ARCHITECTURE.md).

The paper's split (80 prompts): shape i trains colours (i + k) mod 8 for k = 0..4 and holds
out the other three (`train_prompts`, `heldout_prompts`; `ood_prompts` for the new shapes).

The world's split (colours, finishes): over the 10 in-distribution shapes, the trained
finishes `TRAINED_FINISHES` and the trained colours `TRAIN_COLOURS` (the paper's 8 first):

- shape i holds out one whole pattern, `heldout_finish(shape)` = PATTERNS[(i + 2) mod 4] (the
  bowl holds out yarn), and trains plain plus the other three patterns;
- plain: the paper's 5 teacher colours plus CSS training colours (2i + m) mod 20, m = 0..3;
- trained pattern cell n (n-th (shape, pattern) pair in shape-then-finish order): the
  finish's own colour plus the 7 trained colours from index 9n mod 28 on;
- zero-shot: the paper's 30 held-out prompts, each shape's held-out pattern (own colour plus 4
  trained colours), one unseen colour per trained pattern cell (index 9n + 14), and one unseen
  CSS colour per plain shape: every word trained, the combination not;
- held-out colours `HELDOUT_COLOURS`: never in a training prompt, each on 3 shapes in trained
  finishes; held-out finishes `OOD_FINISHES` (plaid, marbled): each on every shape.
"""

from __future__ import annotations

from .vocab import COLOUR_NAMES, FINISHES, OOD_SHAPES, SHAPES, StudioPrompt

TEACHER_COLOURS_PER_SHAPE = 5  # k = 0..4 in the paper's split rule


# ----------------------------------------------------------------------------- the paper's split


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


# ----------------------------------------------------------------------------- the world's split

TRAINED_FINISHES: tuple[str, ...] = FINISHES[:5]  # plain, striped, checkered, dotted, yarn
PATTERNS: tuple[str, ...] = TRAINED_FINISHES[1:]  # the trained finishes other than plain
OOD_FINISHES: tuple[str, ...] = tuple(f for f in FINISHES if f not in TRAINED_FINISHES)  # plaid, marbled

# CSS colours trained on: far from each other and from the paper's 8 (pairwise RGB distance
# > 0.2, tests pin it), a few in several words ("dark slate grey", "sky blue").
CSS_TRAIN_COLOURS: tuple[str, ...] = (
    "black",
    "grey",
    "brown",
    "navy",
    "teal",
    "olive",
    "maroon",
    "cyan",
    "magenta",
    "turquoise",
    "salmon",
    "violet",
    "indigo",
    "lime",
    "tan",
    "skyblue",
    "darkgreen",
    "khaki",
    "deeppink",
    "darkslategrey",
)
TRAIN_COLOURS: tuple[str, ...] = COLOUR_NAMES + CSS_TRAIN_COLOURS  # 28
# Never trained: to measure whether colour carries over from the words' meaning. Some are near a
# trained colour under another name (crimson, red), some compose trained words (light sea green).
HELDOUT_COLOURS: tuple[str, ...] = (
    "crimson",
    "forestgreen",
    "gold",
    "coral",
    "royalblue",
    "orchid",
    "sienna",
    "lightseagreen",
    "steelblue",
    "goldenrod",
    "slategrey",
    "aquamarine",
)

_PLAIN_CSS_PER_SHAPE = 4  # m = 0..3
_COLOURS_PER_CELL = 7  # trained colours per trained (shape, pattern) cell
_CELL_STRIDE = 9  # coprime with 28, so cell starts run through every trained colour
_HELD_FINISH_COLOURS = 4  # trained colours on a shape's held-out pattern (zero-shot)


def heldout_finish(shape: str) -> str:
    """The pattern shape i never trains with: PATTERNS[(i + 2) mod 4] (bowl: yarn)."""
    return PATTERNS[(_shape_index(shape) + 2) % len(PATTERNS)]


def trained_finishes(shape: str) -> list[str]:
    """The finishes shape i trains with: plain and 3 of the 4 patterns, in FINISHES order."""
    return [f for f in TRAINED_FINISHES if f != heldout_finish(shape)]


def _pattern_cells() -> list[tuple[str, str]]:
    """The trained (shape, pattern) cells, in shape then finish order; cell n is index n."""
    return [(s, f) for s in SHAPES for f in trained_finishes(s) if f != "plain"]


def _plain_css(i: int, m: int) -> str:
    return CSS_TRAIN_COLOURS[(2 * i + m) % len(CSS_TRAIN_COLOURS)]


def world_train_prompts() -> list[StudioPrompt]:
    """The world's 330 training prompts, in shape order: plain (the paper's 5 teacher colours,
    then 4 CSS colours), then each trained pattern (its own colour, then 7 trained colours)."""
    n_colours = len(TRAIN_COLOURS)
    cells = _pattern_cells()
    out: list[StudioPrompt] = []
    for i, shape in enumerate(SHAPES):
        out += [StudioPrompt(shape, c) for c in teacher_colours(shape)]
        out += [StudioPrompt(shape, _plain_css(i, m)) for m in range(_PLAIN_CSS_PER_SHAPE)]
        for n, (s, finish) in enumerate(cells):
            if s != shape:
                continue
            out.append(StudioPrompt(shape, None, finish))
            start = _CELL_STRIDE * n
            out += [
                StudioPrompt(shape, TRAIN_COLOURS[(start + k) % n_colours], finish) for k in range(_COLOURS_PER_CELL)
            ]
    return out


def world_zero_shot_prompts() -> list[StudioPrompt]:
    """The world's 120 zero-shot prompts (every word trained, the combination never), in shape
    order: the paper's 3 held-out colours (plain), an unseen CSS training colour (plain), the
    held-out pattern (its own colour, then 4 trained colours), one unseen colour per trained
    pattern."""
    n_colours = len(TRAIN_COLOURS)
    cells = _pattern_cells()
    out: list[StudioPrompt] = []
    for i, shape in enumerate(SHAPES):
        out += [StudioPrompt(shape, c) for c in heldout_colours(shape)]
        out.append(StudioPrompt(shape, _plain_css(i, len(CSS_TRAIN_COLOURS) // 2)))  # m = 10: unseen here
        held = heldout_finish(shape)
        out.append(StudioPrompt(shape, None, held))
        out += [
            StudioPrompt(shape, TRAIN_COLOURS[(5 * i + 7 * j) % n_colours], held) for j in range(_HELD_FINISH_COLOURS)
        ]
        for n, (s, finish) in enumerate(cells):
            if s == shape:  # the colour opposite the cell's block of 7
                out.append(StudioPrompt(shape, TRAIN_COLOURS[(_CELL_STRIDE * n + n_colours // 2) % n_colours], finish))
    return out


def heldout_colour_prompts() -> list[StudioPrompt]:
    """Held-out colour j on shapes (j + 3m) mod 10 for m = 0..2, in a trained finish of that
    shape (trained_finishes(shape)[(j + m) mod 4]): 12 colours x 3 = 36 prompts."""
    out = []
    for j, colour in enumerate(HELDOUT_COLOURS):
        for m in range(3):
            shape = SHAPES[(j + 3 * m) % len(SHAPES)]
            finishes = trained_finishes(shape)
            out.append(StudioPrompt(shape, colour, finishes[(j + m) % len(finishes)]))
    return out


def ood_finish_prompts() -> list[StudioPrompt]:
    """Each held-out finish on every shape, in its own colour on even-indexed shapes for plaid
    and odd ones for marbled, else in paper colour i mod 8: 10 x 2 = 20 prompts."""
    out = []
    for i, shape in enumerate(SHAPES):
        for f, finish in enumerate(OOD_FINISHES):
            own = (i + f) % 2 == 0
            out.append(StudioPrompt(shape, None if own else COLOUR_NAMES[i % len(COLOUR_NAMES)], finish))
    return out


def unseen_kind(prompt: StudioPrompt, training: list[StudioPrompt]) -> str:
    """What about `prompt` the training set never saw, the coarsest first: "shape", "finish",
    "colour" (a colour name; a prompt without one names none), "combination" (every word
    trained, this prompt not) or "trained"."""
    if prompt.shape not in {p.shape for p in training}:
        return "shape"
    if prompt.finish not in {p.finish for p in training}:
        return "finish"
    if prompt.colour is not None and prompt.colour not in {p.colour for p in training}:
        return "colour"
    return "trained" if prompt in set(training) else "combination"
