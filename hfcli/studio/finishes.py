"""Surface finishes: procedural patterns in object space that modulate a prompt's colour.

`pattern(finish, points)` is a multiplier of the base colour in (0, 1], a function of the
object-space position alone (y up; objects fit in |x|, |y|, |z| <= 0.85). The ground truth
evaluates it wherever the field is queried, so it stays exact and view-independent, and colour
stays linear in the albedo: pixel = albedo * sum(weight * shade * pattern) + (1 - opacity).

Scales suit the eval views (64×64, 45° field of view, 3 units away: a pixel is ~0.04 units at
the object), so no feature is under ~0.08 units. Edges ramp over 2 * EDGE (under a pixel):
the pattern is a continuous function a field can fit, and a 64×64 render does not alias.

Patterns that wrap around the object (yarn) use cylindrical coordinates about the y axis:
an angle for the along-row direction and `y + RING_SLOPE * radius` for rows, so rows are
horizontal rings on walls and concentric rings on flat tops (a plate), never absent.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

DARK = 0.4  # the second tone of a two-tone finish (stripes, checks, dots)
EDGE = 0.015  # half the width of the ramp between two tones (scene units)

STRIPE_PERIOD = 0.26  # along STRIPE_DIR; half of each period is dark
STRIPE_DIR = (math.sqrt(0.5), math.sqrt(0.5), 0.0)  # diagonal in xy: bands cross walls and flat tops alike
CHECK_CELL = 0.2  # cube side of the solid checkerboard
CHECK_OFFSET = 0.07  # moves cell faces off the shapes' flat faces (plate well, seats at round y)
DOT_SPACING = 0.17  # FCC lattice: points h * (i, j, k) with i + j + k even
DOT_RADIUS = 0.095  # a surface through the lattice cuts discs of radius 0.05-0.095
YARN_ROW = 0.16  # row height (along y on a wall)
YARN_STITCHES = 12  # stitches around the y axis: ~0.3 wide at radius 0.6
YARN_CHEVRON = 1.2  # a stitch's edge sits this many half-rows above its centre: the "V"
YARN_GROOVE = 0.38  # brightness at the grooves between strands
RING_SLOPE = 0.5
PLAID_PERIOD = 0.34
PLAID_HALF_WIDTH = 0.075  # bands 0.15 wide, one set per axis
PLAID_DARK = 0.62  # each band multiplies by this: a crossing of two is 0.38
MARBLE_PERIOD = 0.42
MARBLE_DARK = 0.4


def _ramp(signed: Tensor) -> Tensor:
    """0 below -EDGE, 1 above +EDGE, linear between: a soft step of a signed distance."""
    return (signed / (2 * EDGE) + 0.5).clamp(0.0, 1.0)


def _band(u: Tensor, period: float, half_width: float) -> Tensor:
    """1 within half_width of a multiple of `period`, 0 elsewhere (soft edges)."""
    dist = (u / period - torch.round(u / period)).abs() * period
    return _ramp(half_width - dist)


def _along(points: Tensor, direction: tuple[float, float, float]) -> Tensor:
    return points @ points.new_tensor(direction)


def _cylindrical(points: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(angle in turns in [-0.5, 0.5], radius from the y axis, ring coordinate)."""
    x, y, z = points.unbind(-1)
    radius = torch.sqrt(x * x + z * z)
    return torch.atan2(x, z) / (2 * math.pi), radius, y + RING_SLOPE * radius


def _plain(points: Tensor) -> Tensor:
    return torch.ones(points.shape[0], dtype=points.dtype)


def _striped(points: Tensor) -> Tensor:
    # Light bands centred on along = k * period, dark ones half a period further.
    dark = _band(_along(points, STRIPE_DIR) - STRIPE_PERIOD / 2, STRIPE_PERIOD, STRIPE_PERIOD / 4)
    return 1.0 - (1.0 - DARK) * dark


def _checkered(points: Tensor) -> Tensor:
    # Per axis a soft ±1 square wave (+1 on even cells); their product is the cell parity.
    u = (points + CHECK_OFFSET) * (math.pi / CHECK_CELL)
    square = (torch.sin(u) * (CHECK_CELL / (math.pi * EDGE))).clamp(-1.0, 1.0).prod(dim=-1)
    return 1.0 - (1.0 - DARK) * (1.0 - square) / 2


def nearest_dot(points: Tensor) -> Tensor:
    """The nearest FCC lattice point (DOT_SPACING * (i, j, k), i + j + k even) to each point.

    FCC rather than cubic: any plane passes within DOT_SPACING / 2 of a lattice layer, so a
    flat face always shows dots.
    """
    q = points / DOT_SPACING
    r = torch.round(q)
    odd = (r.sum(dim=-1).remainder(2) != 0)[:, None]
    err = q - r
    # Odd parity: move the worst-rounded coordinate to its other neighbour.
    worst = torch.nn.functional.one_hot(err.abs().argmax(dim=-1), 3).to(q.dtype)
    step = torch.where(err >= 0, 1.0, -1.0)
    return (r + odd * worst * step) * DOT_SPACING


def _dotted(points: Tensor) -> Tensor:
    dist = torch.linalg.vector_norm(points - nearest_dot(points), dim=-1)
    return 1.0 - (1.0 - DARK) * _ramp(DOT_RADIUS - dist)


def _yarn(points: Tensor) -> Tensor:
    """Knit stitches: rows of V's around the y axis, grooves between rows and between legs."""
    turns, radius, ring = _cylindrical(points)
    # Near the axis the stitches would shrink below a pixel: fade to plain rows there.
    fade = ((radius - 0.1) / 0.15).clamp(0.0, 1.0)
    a = turns * YARN_STITCHES
    a = a - torch.round(a)  # [-0.5, 0.5]: 0 at a stitch's centre line
    w = ring / YARN_ROW - fade * YARN_CHEVRON * a.abs()  # rows bent into V's
    across = torch.sin(math.pi * (w - torch.floor(w)))  # 0 at the groove between rows
    leg = torch.sin(math.pi * 2 * a).abs()  # 0 between a V's two legs and between stitches
    strand = (across * (1.0 - fade + fade * leg)).clamp(min=0.0).sqrt()
    return YARN_GROOVE + (1.0 - YARN_GROOVE) * strand


def _plaid(points: Tensor) -> Tensor:
    bands = _band(points, PLAID_PERIOD, PLAID_HALF_WIDTH)  # [N, 3]: one band set per axis
    return (1.0 - (1.0 - PLAID_DARK) * bands).prod(dim=-1)


# Fixed warps (no randomness): a sum of sines in three directions, then a second pass on the
# warped point, so the veins wander without repeating along the object.
_MARBLE_WARP = (
    ((0.8, 0.2, 0.55), 0.9, 1.3, 0.0),
    ((-0.3, 0.9, 0.3), 0.7, 1.9, 1.1),
    ((0.4, -0.5, 0.75), 0.5, 2.9, 2.3),
)


def _marbled(points: Tensor) -> Tensor:
    warp = torch.zeros_like(points[:, 0])
    for direction, amplitude, freq, phase in _MARBLE_WARP:
        warp = warp + amplitude * torch.sin(freq * math.pi * _along(points, direction) + phase)
    x, y, z = points.unbind(-1)
    w = 2 * math.pi * (0.6 * x + 0.75 * y + 0.3 * z) / MARBLE_PERIOD + 2.2 * warp
    vein = ((1.0 + torch.cos(w)) / 2) ** 8
    cloud = 0.92 + 0.08 * torch.sin(3.1 * x + 2.3 * warp)  # a faint cloudiness between veins
    return cloud * (1.0 - (1.0 - MARBLE_DARK) * vein)


_PATTERNS = {
    "plain": _plain,
    "striped": _striped,
    "checkered": _checkered,
    "dotted": _dotted,
    "yarn": _yarn,
    "plaid": _plaid,
    "marbled": _marbled,
}


def pattern(finish: str, points: Tensor) -> Tensor:
    """points [N, 3] (object space) → the colour multiplier [N] in (0, 1]; plain is exactly 1."""
    fn = _PATTERNS.get(finish)
    if fn is None:
        raise ValueError(f"unknown finish {finish!r}; known: {', '.join(_PATTERNS)}")
    return fn(points)
