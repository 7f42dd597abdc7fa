"""The studio's named colours: the HyperFields paper's 8 plus CSS's named colours (via webcolors).

The paper's 8 keep their exact RGB (so our numbers compare with the paper's), and a CSS name
that is one of those words ("red", "green") takes the paper's RGB too. CSS colours too close
to the white background are dropped (`NEAR_WHITE_MIN_CHANNEL`). Names are single words as in
CSS ("forestgreen"); the parser merges "forest green", and prompts spell them as words
(`colour_words`), which is what a text encoder reads meaning from. "gray" spellings are stored
too, but `canonical_colour` maps them to "grey" so one colour has one name in every split.
"""

from __future__ import annotations

import webcolors

# sRGB albedos in [0, 1]. Chosen to be far apart from each other and from the white
# background, so a wrong colour is a measurable error rather than a shade difference.
PAPER_COLOURS: dict[str, tuple[float, float, float]] = {
    "yellow": (0.95, 0.80, 0.10),
    "green": (0.15, 0.60, 0.20),
    "orange": (0.95, 0.48, 0.08),
    "purple": (0.50, 0.22, 0.70),
    "mint": (0.55, 0.90, 0.72),
    "blue": (0.15, 0.35, 0.85),
    "red": (0.85, 0.10, 0.12),
    "pink": (0.97, 0.50, 0.72),
}

# A colour whose every channel exceeds this is a tint of white: on the white background its
# silhouette and its colour error would both be invisible. The rule drops 28 of CSS's 147 names,
# e.g. white, snow, ivory, beige, lavender, lightgrey, mintcream (tests/test_studio_vocab.py
# lists them all); the palest kept is bisque, at RGB distance 0.25 from white.
NEAR_WHITE_MIN_CHANNEL = 0.8


def _css_colours() -> tuple[dict[str, tuple[float, float, float]], tuple[str, ...]]:
    """(kept CSS colours, dropped near-white names), both in alphabetical order."""
    kept: dict[str, tuple[float, float, float]] = {}
    dropped: list[str] = []
    for name in sorted(webcolors.names("css3")):
        rgb = tuple(round(v / 255, 4) for v in webcolors.name_to_rgb(name, spec="css3"))
        if min(rgb) > NEAR_WHITE_MIN_CHANNEL:
            dropped.append(name)
        elif name not in PAPER_COLOURS:
            kept[name] = rgb  # type: ignore[assignment]
    return kept, tuple(dropped)


CSS_COLOURS, NEAR_WHITE_NAMES = _css_colours()

# Every colour name the studio renders: the paper's 8 first (the old split indexes them), then CSS.
COLOURS: dict[str, tuple[float, float, float]] = {**PAPER_COLOURS, **CSS_COLOURS}


def canonical_colour(name: str) -> str:
    """One name per colour word: "gray" spellings become "grey" ("darkgray" -> "darkgrey")."""
    grey = name.replace("gray", "grey")
    return grey if grey in COLOURS else name


# The words CSS runs together ("lightseagreen"); a name that splits wholly into them is
# written as words ("light sea green"), any other ("firebrick", "goldenrod") stays one word.
_COLOUR_PARTS = (
    "light", "dark", "medium", "pale", "deep", "hot", "dim", "lawn", "lime", "forest", "sea", "sky", "slate",
    "royal", "steel", "dodger", "cornflower", "midnight", "powder", "cadet", "olive", "drab", "sandy", "rosy",
    "indian", "saddle", "navajo", "peach", "puff", "spring", "green", "blue", "red", "pink", "violet", "yellow",
    "grey", "gray", "white", "brown", "orange", "goldenrod", "turquoise", "orchid", "salmon", "aquamarine",
    "khaki", "purple", "cyan", "magenta", "coral",
)  # fmt: skip


def _split_words(name: str) -> list[str] | None:
    """`name` as a run of _COLOUR_PARTS (longest part first at each point), or None."""
    if not name:
        return []
    for part in sorted((p for p in _COLOUR_PARTS if name.startswith(p)), key=len, reverse=True):
        rest = _split_words(name[len(part) :])
        if rest is not None:
            return [part, *rest]
    return None


def colour_words(name: str) -> str:
    """How a prompt writes a colour: "forestgreen" → "forest green", "red" → "red"."""
    words = _split_words(name)
    return " ".join(words) if words and len(words) > 1 else name
