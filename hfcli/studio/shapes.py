"""Signed distance functions of the 14 studio shapes, in pure torch.

Coordinates are y-up. Every object sits upright inside |x|, |z| <= 0.8, -0.8 <= y <= 0.8
(so its soft boundary still fits the 0.85 scene box) with a largest extent of about 1.4-1.6.

Each shape is a union of exact primitive SDFs (box, rounded box, capped cylinder, torus,
sphere, capsule, revolved/extruded polylines) combined with min / max, so the result is a
distance *bound*: negative inside, Lipschitz <= 1, exact near most of the surface. Every part
is at least 0.06 thick, because the studio renders the SDF as a volume with a ~0.04 soft
boundary and thinner parts would vanish.

Besides the distance, every shape returns a *tone*: 0 for the main material, 1 for an accent
part (legs, handles, wheels, ...). The colour model renders tone 1 as a darker shade of the
prompt's colour; a point takes the tone of the part whose surface is nearest (the argmin of
the union), so the tone field is defined everywhere, not only on the surface.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

Part = tuple[Tensor, float]  # (sdf [N], tone of that part)

MAIN, ACCENT = 0.0, 1.0
# Every point with sdf < BOUNDS_MARGIN lies inside SHAPE_BOUNDS[shape]: the box covers the
# surface plus the soft boundary the studio renders, so empty-space skipping loses nothing.
BOUNDS_MARGIN = 0.04


# ----------------------------------------------------------------------------- primitives
# All take points p [N, 3] (or [..., 3]) and return exact signed distances [N].


def _length2(x: Tensor, y: Tensor) -> Tensor:
    return torch.sqrt(x * x + y * y)


def _sphere(p: Tensor, centre: tuple[float, float, float], r: float) -> Tensor:
    return torch.linalg.vector_norm(p - p.new_tensor(centre), dim=-1) - r


def _box(
    p: Tensor, centre: tuple[float, float, float], half: tuple[float, float, float], round_r: float = 0.0
) -> Tensor:
    """Axis-aligned box; round_r > 0 rounds its edges while keeping the same outer size."""
    q = (p - p.new_tensor(centre)).abs() - (p.new_tensor(half) - round_r)
    outside = torch.linalg.vector_norm(q.clamp(min=0.0), dim=-1)
    inside = q.amax(dim=-1).clamp(max=0.0)
    return outside + inside - round_r


def _extrude(d2: Tensor, axial: Tensor, half: float) -> Tensor:
    """Extrude a 2D SDF d2 along an axis (coordinate `axial`, centred) to thickness 2*half."""
    w_x, w_y = d2, axial.abs() - half
    outside = _length2(w_x.clamp(min=0.0), w_y.clamp(min=0.0))
    return outside + torch.maximum(w_x, w_y).clamp(max=0.0)


def _cylinder_y(p: Tensor, centre: tuple[float, float, float], r: float, half_h: float) -> Tensor:
    """Capped cylinder along y."""
    x, y, z = (p - p.new_tensor(centre)).unbind(-1)
    return _extrude(_length2(x, z) - r, y, half_h)


def _cylinder_z(p: Tensor, centre: tuple[float, float, float], r: float, half_h: float) -> Tensor:
    """Capped cylinder along z (wheels)."""
    x, y, z = (p - p.new_tensor(centre)).unbind(-1)
    return _extrude(_length2(x, y) - r, z, half_h)


def _torus_y(p: Tensor, centre: tuple[float, float, float], big_r: float, r: float) -> Tensor:
    """Torus lying in the xz plane (axis y)."""
    x, y, z = (p - p.new_tensor(centre)).unbind(-1)
    return _length2(_length2(x, z) - big_r, y) - r


def _torus_z(p: Tensor, centre: tuple[float, float, float], big_r: float, r: float) -> Tensor:
    """Torus standing in the xy plane (axis z): a mug handle."""
    x, y, z = (p - p.new_tensor(centre)).unbind(-1)
    return _length2(_length2(x, y) - big_r, z) - r


def _capsule(p: Tensor, a: tuple[float, float, float], b: tuple[float, float, float], r: float) -> Tensor:
    a_t, b_t = p.new_tensor(a), p.new_tensor(b)
    pa, ba = p - a_t, b_t - a_t
    h = ((pa @ ba) / (ba @ ba)).clamp(0.0, 1.0)
    return torch.linalg.vector_norm(pa - h[..., None] * ba, dim=-1) - r


def _polyline2(u: Tensor, v: Tensor, pts: list[tuple[float, float]]) -> Tensor:
    """Unsigned distance [N] from 2D points (u, v) to a polyline through pts.

    Loops over the (few) segments, never over points, keeping one running minimum so memory
    stays O(N) on millions of points.
    """
    best = None
    for (au, av), (bu, bv) in zip(pts[:-1], pts[1:]):
        bau, bav = bu - au, bv - av
        pau, pav = u - au, v - av
        h = ((pau * bau + pav * bav) / (bau * bau + bav * bav)).clamp(0.0, 1.0)
        d = _length2(pau - h * bau, pav - h * bav)
        best = d if best is None else torch.minimum(best, d)
    assert best is not None, "a polyline needs at least two points"
    return best


def _revolved(p: Tensor, profile: list[tuple[float, float]], half_thick: float) -> Tensor:
    """A shell of revolution about the y axis: profile is a list of (radius, y) points.

    The shell is open where the profile ends, so a profile that starts on the axis and ends
    at a rim gives a hollow vessel with an open top.
    """
    x, y, z = p.unbind(-1)
    return _polyline2(_length2(x, z), y, profile) - half_thick


def _fold_xz(p: Tensor) -> Tensor:
    """Mirror into the +x, +z quadrant: four symmetric parts (legs, wheels) cost one SDF.

    Exact for parts that stay inside their own quadrant, since the nearest one is always
    the one in the point's quadrant.
    """
    x, y, z = p.unbind(-1)
    return torch.stack([x.abs(), y, z.abs()], dim=-1)


def _union(parts: list[Part]) -> tuple[Tensor, Tensor]:
    """min over parts, with the tone of the nearest part. Returns (sdf [N], tone [N])."""
    sdf, tone0 = parts[0]
    tone = torch.full_like(sdf, tone0)
    for d, t in parts[1:]:
        closer = d < sdf
        sdf = torch.where(closer, d, sdf)
        tone = torch.where(closer, torch.full_like(tone, t), tone)
    return sdf, tone


# ----------------------------------------------------------------------------- shapes


def _chair(p: Tensor) -> tuple[Tensor, Tensor]:
    seat = _box(p, (0.0, -0.1, 0.0), (0.42, 0.05, 0.42), 0.02)
    legs = _box(_fold_xz(p), (0.35, -0.46, 0.35), (0.05, 0.34, 0.05))
    back = _box(p, (0.0, 0.36, -0.37), (0.42, 0.44, 0.05), 0.02)
    return _union([(seat, MAIN), (back, MAIN), (legs, ACCENT)])


def _pot(p: Tensor) -> tuple[Tensor, Tensor]:
    # A cooking pot: a hollow cylinder with a rounded rim and two ear handles.
    body = _revolved(p, [(0.0, -0.4), (0.55, -0.4), (0.62, -0.33), (0.62, 0.3)], 0.045)
    rim = _torus_y(p, (0.0, 0.3, 0.0), 0.62, 0.065)
    x = p[..., 0]
    ears = torch.minimum(_torus_y(p, (0.62, 0.17, 0.0), 0.12, 0.045), _torus_y(p, (-0.62, 0.17, 0.0), 0.12, 0.045))
    ears = torch.maximum(ears, 0.62 - x.abs())  # keep only the outside half of each loop
    return _union([(body, MAIN), (rim, MAIN), (ears, ACCENT)])


def _toaster(p: Tensor) -> tuple[Tensor, Tensor]:
    body = _box(p, (-0.05, -0.12, 0.0), (0.66, 0.48, 0.40), 0.12)
    slots = torch.minimum(
        _box(p, (-0.05, 0.36, 0.14), (0.46, 0.30, 0.05)), _box(p, (-0.05, 0.36, -0.14), (0.46, 0.30, 0.05))
    )
    shell = torch.maximum(body, -slots)
    # Slot walls are accent: they are the nearest surface wherever the cut is the active side.
    shell_tone = (-slots > body).to(p.dtype)
    lever = _box(p, (0.66, 0.0, 0.0), (0.08, 0.04, 0.10), 0.02)
    knob = _cylinder_z(p, (0.62, -0.35, 0.0), 0.07, 0.05)
    sdf, tone = _union([(lever, ACCENT), (knob, ACCENT)])
    closer = shell < sdf
    return torch.where(closer, shell, sdf), torch.where(closer, shell_tone, tone)


def _bench(p: Tensor) -> tuple[Tensor, Tensor]:
    seat = _box(p, (0.0, 0.0, 0.04), (0.8, 0.05, 0.24), 0.02)
    seat_z = p.new_tensor([0.0, 0.0, 0.04])  # the legs stand under the seat's centre line
    legs = _box(_fold_xz(p - seat_z), (0.66, -0.3, 0.16), (0.05, 0.26, 0.05))
    back = _box(p, (0.0, 0.4, -0.24), (0.8, 0.14, 0.04), 0.02)
    posts = torch.minimum(
        _box(p, (0.66, 0.27, -0.24), (0.05, 0.27, 0.04)), _box(p, (-0.66, 0.27, -0.24), (0.05, 0.27, 0.04))
    )
    return _union([(seat, MAIN), (back, MAIN), (legs, ACCENT), (posts, ACCENT)])


_STOOL_TOP, _STOOL_FOOT = 0.66, -0.75  # leg ends (y)
_STOOL_R_TOP, _STOOL_R_FOOT = 0.24, 0.40  # leg ends (distance from the axis): splayed legs


def _stool(p: Tensor) -> tuple[Tensor, Tensor]:
    seat = _cylinder_y(p, (0.0, 0.7, 0.0), 0.42, 0.06)
    legs = []
    for k in range(4):
        a = math.pi / 4 + k * math.pi / 2
        c, s = math.cos(a), math.sin(a)
        legs.append(
            _capsule(
                p,
                (_STOOL_R_TOP * c, _STOOL_TOP, _STOOL_R_TOP * s),
                (_STOOL_R_FOOT * c, _STOOL_FOOT, _STOOL_R_FOOT * s),
                0.045,
            )
        )
    legs_d = torch.stack(legs).amin(0)
    ring_y = -0.3  # a foot ring where the splayed legs pass
    t = (_STOOL_TOP - ring_y) / (_STOOL_TOP - _STOOL_FOOT)
    ring = _torus_y(p, (0.0, ring_y, 0.0), _STOOL_R_TOP + t * (_STOOL_R_FOOT - _STOOL_R_TOP), 0.035)
    return _union([(seat, MAIN), (legs_d, ACCENT), (ring, ACCENT)])


def _bowl_profile() -> list[tuple[float, float]]:
    # A half ellipse, wider than deep, from the bottom centre to the rim.
    n = 18
    pts = []
    for i in range(n + 1):
        th = -math.pi / 2 + (math.pi / 2) * i / n
        pts.append((0.72 * math.cos(th), 0.40 + 0.62 * math.sin(th)))
    pts[0] = (0.0, pts[0][1])
    return pts


_BOWL = _bowl_profile()


def _bowl(p: Tensor) -> tuple[Tensor, Tensor]:
    shell = _revolved(p, _BOWL, 0.04)
    foot = _revolved(p, [(0.28, -0.22), (0.30, -0.32)], 0.035)
    return _union([(shell, MAIN), (foot, ACCENT)])


def _chaikin(pts: list[tuple[float, float]], rounds: int) -> list[tuple[float, float]]:
    """Corner-cutting subdivision: a smoother polyline with the same end points."""
    for _ in range(rounds):
        out = [pts[0]]
        for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:]):
            out += [(0.75 * ax + 0.25 * bx, 0.75 * ay + 0.25 * by), (0.25 * ax + 0.75 * bx, 0.25 * ay + 0.75 * by)]
        pts = out + [pts[-1]]
    return pts


# A body of revolution with a narrow neck and a flared lip; closed at the base, open at the top.
_VASE_CONTROL = [
    (0.0, -0.72),
    (0.30, -0.72),
    (0.42, -0.62),
    (0.50, -0.44),
    (0.52, -0.26),
    (0.48, -0.06),
    (0.37, 0.13),
    (0.24, 0.30),
    (0.17, 0.44),
    (0.16, 0.58),
    (0.19, 0.68),
    (0.25, 0.74),
]
_VASE_BODY = [(0.0, -0.72)] + _chaikin(_VASE_CONTROL[1:-2], 1)  # keep the flat base flat
_VASE_LIP = _VASE_CONTROL[-3:]


def _vase(p: Tensor) -> tuple[Tensor, Tensor]:
    body = _revolved(p, _VASE_BODY, 0.04)
    lip = _revolved(p, _VASE_LIP, 0.04)
    return _union([(body, MAIN), (lip, ACCENT)])


def _skateboard(p: Tensor) -> tuple[Tensor, Tensor]:
    x, y, z = p.unbind(-1)
    # Side view: a flat deck with kicked-up tails; top view: a stadium with round ends.
    side = _polyline2(x, y, [(-0.8, 0.17), (-0.57, 0.04), (0.57, 0.04), (0.8, 0.17)]) - 0.035
    top = _capsule(p * p.new_tensor([1.0, 0.0, 1.0]), (-0.6, 0.0, 0.0), (0.6, 0.0, 0.0), 0.2)
    deck = torch.maximum(side, top)
    folded = _fold_xz(p)
    wheels = _cylinder_z(folded, (0.5, -0.14, 0.15), 0.075, 0.04)
    trucks = _box(folded, (0.5, -0.07, 0.0), (0.04, 0.075, 0.12))
    return _union([(deck, MAIN), (wheels, ACCENT), (trucks, ACCENT)])


# Knife blade outline in the xy plane: a box whose edge curves up to the tip along a circle.
_BLADE_X0, _BLADE_X1, _BLADE_HALF_H = -0.15, 0.8, 0.14
_EDGE_CENTRE = (-0.15, 1.0)
_EDGE_R = math.hypot(_BLADE_X1 - _EDGE_CENTRE[0], _BLADE_HALF_H - _EDGE_CENTRE[1])  # through the tip


def _knife(p: Tensor) -> tuple[Tensor, Tensor]:
    # Standing on its edge in the xy plane, 0.08 thick in z so the blade survives rendering.
    x, y, z = p.unbind(-1)
    cx = 0.5 * (_BLADE_X0 + _BLADE_X1)
    qx = (x - cx).abs() - 0.5 * (_BLADE_X1 - _BLADE_X0)
    qy = y.abs() - _BLADE_HALF_H
    box2 = _length2(qx.clamp(min=0.0), qy.clamp(min=0.0)) + torch.maximum(qx, qy).clamp(max=0.0)
    edge = _length2(x - _EDGE_CENTRE[0], y - _EDGE_CENTRE[1]) - _EDGE_R
    blade = _extrude(torch.maximum(box2, edge), z, 0.04)
    handle = _box(p, (-0.48, 0.03, 0.0), (0.32, 0.095, 0.065), 0.05)
    bolster = _box(p, (-0.15, 0.0, 0.0), (0.035, 0.15, 0.06), 0.015)
    return _union([(blade, MAIN), (handle, ACCENT), (bolster, ACCENT)])


def _plate(p: Tensor) -> tuple[Tensor, Tensor]:
    # A shallow dish 0.07 thick: flat well, sloped marly, raised rim (accent).
    well = _revolved(p, [(0.0, -0.05), (0.48, -0.05), (0.66, 0.04)], 0.035)
    rim = _revolved(p, [(0.66, 0.04), (0.76, 0.08)], 0.035)
    foot = _revolved(p, [(0.30, -0.07), (0.32, -0.10)], 0.03)
    return _union([(well, MAIN), (rim, ACCENT), (foot, MAIN)])


_MUG_X = -0.155  # the handle sticks out in +x: shift the cup so the whole mug is centred
_MUG_R = 0.46


def _mug(p: Tensor) -> tuple[Tensor, Tensor]:
    q = p - p.new_tensor([_MUG_X, 0.0, 0.0])
    cup = _revolved(q, [(0.0, -0.68), (_MUG_R - 0.05, -0.68), (_MUG_R, -0.63), (_MUG_R, 0.70)], 0.045)
    handle = torch.maximum(_torus_z(q, (_MUG_R, 0.0, 0.0), 0.30, 0.055), _MUG_R - q[..., 0])
    return _union([(cup, MAIN), (handle, ACCENT)])


def _table(p: Tensor) -> tuple[Tensor, Tensor]:
    top = _box(p, (0.0, 0.42, 0.0), (0.8, 0.05, 0.55), 0.02)
    legs = _box(_fold_xz(p), (0.68, -0.05, 0.43), (0.055, 0.44, 0.055))
    return _union([(top, MAIN), (legs, ACCENT)])


def _lamp(p: Tensor) -> tuple[Tensor, Tensor]:
    base = _cylinder_y(p, (0.0, -0.76, 0.0), 0.32, 0.04)
    stem = _cylinder_y(p, (0.0, -0.22, 0.0), 0.04, 0.52)
    bulb = _sphere(p, (0.0, 0.34, 0.0), 0.1)
    shade = _revolved(p, [(0.2, 0.76), (0.52, 0.22)], 0.035)  # open at both ends
    return _union([(shade, MAIN), (base, ACCENT), (stem, ACCENT), (bulb, ACCENT)])


def _donut(p: Tensor) -> tuple[Tensor, Tensor]:
    sdf = _torus_y(p, (0.0, 0.0, 0.0), 0.52, 0.27)
    # Icing on top (main colour), dough underneath (accent), with a wavy drip line.
    x, y, z = p.unbind(-1)
    drip = 0.04 * torch.sin(7.0 * torch.atan2(z, x))
    return sdf, (y < drip).to(p.dtype)


_SHAPE_FNS: dict[str, Callable[[Tensor], tuple[Tensor, Tensor]]] = {
    "chair": _chair,
    "pot": _pot,
    "toaster": _toaster,
    "bench": _bench,
    "stool": _stool,
    "bowl": _bowl,
    "vase": _vase,
    "skateboard": _skateboard,
    "knife": _knife,
    "plate": _plate,
    "mug": _mug,
    "table": _table,
    "lamp": _lamp,
    "donut": _donut,
}

# (min, max) corners. Measured by dense sampling of {sdf < BOUNDS_MARGIN}, rounded outwards
# to 0.01; tests/test_shapes.py re-measures them, so a geometry change that breaks one fails.
SHAPE_BOUNDS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "chair": ((-0.47, -0.85, -0.47), (0.47, 0.85, 0.47)),
    "pot": ((-0.84, -0.50, -0.74), (0.84, 0.42, 0.74)),
    "toaster": ((-0.76, -0.65, -0.45), (0.79, 0.41, 0.45)),
    "bench": ((-0.85, -0.61, -0.33), (0.85, 0.59, 0.33)),
    "stool": ((-0.47, -0.85, -0.47), (0.47, 0.81, 0.47)),
    "bowl": ((-0.81, -0.41, -0.81), (0.81, 0.49, 0.81)),
    "vase": ((-0.61, -0.81, -0.61), (0.61, 0.83, 0.61)),
    "skateboard": ((-0.85, -0.27, -0.25), (0.85, 0.26, 0.25)),
    "knife": ((-0.85, -0.20, -0.12), (0.85, 0.20, 0.12)),
    "plate": ((-0.85, -0.18, -0.85), (0.85, 0.17, 0.85)),
    "mug": ((-0.71, -0.78, -0.56), (0.71, 0.80, 0.56)),
    "table": ((-0.85, -0.54, -0.60), (0.85, 0.52, 0.60)),
    "lamp": ((-0.61, -0.85, -0.61), (0.61, 0.85, 0.61)),
    "donut": ((-0.84, -0.32, -0.84), (0.84, 0.32, 0.84)),
}


def shape_sdf(shape: str, points: Tensor) -> tuple[Tensor, Tensor]:
    """Signed distance and tone of a studio shape.

    points: [N, 3] float32, y up. Returns (sdf [N], negative inside, Lipschitz <= 1;
    tone [N], 0.0 main material / 1.0 accent part).
    """
    fn = _SHAPE_FNS.get(shape)
    if fn is None:
        raise ValueError(f"unknown studio shape {shape!r}; known: {', '.join(_SHAPE_FNS)}")
    if points.shape[-1] != 3:
        raise ValueError(f"points must be [N, 3], got {tuple(points.shape)}")
    return fn(points)


def shape_bounds(shape: str) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """(min, max) corners of a box holding every point with sdf < BOUNDS_MARGIN."""
    if shape not in SHAPE_BOUNDS:
        raise ValueError(f"unknown studio shape {shape!r}; known: {', '.join(SHAPE_BOUNDS)}")
    return SHAPE_BOUNDS[shape]
