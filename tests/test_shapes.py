"""The studio shapes: where they are, that they are what they claim, and that they render."""

from __future__ import annotations

from functools import cache

import pytest
import torch

from hfcli.studio.shapes import BOUNDS_MARGIN, SHAPE_BOUNDS, shape_bounds, shape_sdf
from hfcli.studio.vocab import ALL_SHAPES

SCENE_HALF = 0.85  # every object must fit |x|, |y|, |z| <= this
GRID_N = 48
GRID_HALF = 0.9  # a little beyond the scene box, so a shape poking out of it is seen


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    # These are many small element-wise ops; on a busy CPU torch's intra-op threads spin
    # against each other and the module runs 4x slower than on one thread.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@cache
def _grid() -> torch.Tensor:
    ax = torch.linspace(-GRID_HALF, GRID_HALF, GRID_N)
    return torch.stack(torch.meshgrid(ax, ax, ax, indexing="ij"), -1).reshape(-1, 3)


@cache
def _grid_sdf(shape: str) -> tuple[torch.Tensor, torch.Tensor]:
    return shape_sdf(shape, _grid())


def test_every_vocabulary_shape_has_geometry_and_bounds():
    assert set(SHAPE_BOUNDS) == set(ALL_SHAPES)


@pytest.mark.parametrize("shape", ALL_SHAPES)
def test_output_shapes_and_tone_values(shape):
    pts = _grid()
    sdf, tone = _grid_sdf(shape)
    assert sdf.shape == tone.shape == (len(pts),)
    assert sdf.dtype == tone.dtype == torch.float32
    assert torch.isfinite(sdf).all()
    assert set(tone.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("shape", ALL_SHAPES)
def test_inside_fits_scene_and_bounds(shape):
    pts = _grid()
    sdf, _ = _grid_sdf(shape)
    inside = pts[sdf < 0]
    assert len(inside) > 500, "the shape is (nearly) empty"
    assert inside.abs().max() <= SCENE_HALF
    lo, hi = (torch.tensor(c) for c in shape_bounds(shape))
    near = pts[sdf < BOUNDS_MARGIN]  # the surface plus its rendered soft boundary
    assert (near >= lo).all() and (near <= hi).all(), "a point near the surface lies outside its box"
    assert (lo >= -SCENE_HALF).all() and (hi <= SCENE_HALF).all()
    # Tight: every face of the box is touched (within two grid cells) by near-surface points.
    cell = 2 * GRID_HALF / (GRID_N - 1)
    assert (near.amin(0) - lo).max() < 2 * cell
    assert (hi - near.amax(0)).max() < 2 * cell
    # Large enough to fill the scene box reasonably.
    extent = (inside.amax(0) - inside.amin(0)).max()
    assert 1.3 < extent < 1.7


@pytest.mark.parametrize("shape", ALL_SHAPES)
def test_sdf_is_lipschitz(shape):
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(20000, 3, generator=g) * 2 - 1) * GRID_HALF
    step = torch.randn(20000, 3, generator=g)
    b = a + step / step.norm(dim=-1, keepdim=True) * torch.rand(20000, 1, generator=g) * 0.2
    da, _ = shape_sdf(shape, a)
    db, _ = shape_sdf(shape, b)
    assert ((da - db).abs() <= 1.05 * (a - b).norm(dim=-1) + 1e-5).all()


@pytest.mark.parametrize("shape", ALL_SHAPES)
def test_parts_are_thick_enough_to_render(shape):
    # Rendered with a ~0.04 soft boundary, a part thinner than ~0.05 vanishes. A coarse check
    # here (some of the volume lies deeper than 0.02); the probes below check each thin part
    # (legs, walls, handles, wheels) one by one at sdf < -0.025.
    sdf, _ = _grid_sdf(shape)
    assert (sdf < -0.02).sum() > 0.05 * (sdf < 0).sum()


# ----------------------------------------------------------------------------- recognisable
# Each probe: (point, expected). "in" = deep inside (sdf < -0.025: the part there is at least
# 0.05 thick), "out" = clearly outside (sdf > 0.02); an "in" with a tone also checks which part
# it belongs to (0 main, 1 accent).

_STOOL_LEG_R0 = 0.24 + 0.16 * (0.66 / 1.41)  # a splayed leg's distance from the axis at y = 0
_MUG_X = -0.155
PROBES: dict[str, list[tuple[tuple[float, float, float], str, float | None]]] = {
    "chair": [
        *[((sx * 0.35, -0.6, sz * 0.35), "in", 1.0) for sx in (-1, 1) for sz in (-1, 1)],
        ((0.0, -0.1, 0.0), "in", 0.0),
        ((0.0, 0.5, -0.37), "in", 0.0),  # seat, back
        ((0.0, -0.5, 0.0), "out", None),
        ((0.0, 0.4, 0.0), "out", None),
        ((0.0, 0.4, 0.3), "out", None),
    ],
    "pot": [
        ((0.0, 0.0, 0.62), "in", 0.0),
        ((0.0, -0.4, 0.2), "in", 0.0),
        ((0.0, 0.3, -0.62), "in", 0.0),
        ((0.74, 0.17, 0.0), "in", 1.0),
        ((-0.74, 0.17, 0.0), "in", 1.0),  # handles
        ((0.0, 0.0, 0.0), "out", None),
        ((0.0, -0.3, 0.0), "out", None),
        ((0.0, 0.5, 0.0), "out", None),
    ],
    "toaster": [
        ((0.0, -0.3, 0.0), "in", 0.0),
        ((0.68, 0.0, 0.0), "in", 1.0),  # body, lever
        ((0.0, 0.25, 0.0), "in", 1.0),  # the wall between the slots is slot-coloured
        ((0.0, 0.2, 0.14), "out", None),
        ((0.3, 0.2, -0.14), "out", None),
        ((0.0, 0.5, 0.0), "out", None),
    ],
    "bench": [
        *[((sx * 0.66, -0.3, 0.04 + sz * 0.16), "in", 1.0) for sx in (-1, 1) for sz in (-1, 1)],
        ((0.75, 0.0, 0.04), "in", 0.0),
        ((0.0, 0.4, -0.24), "in", 0.0),  # long seat, back
        ((0.0, -0.3, 0.04), "out", None),
        ((0.0, 0.25, 0.1), "out", None),
    ],
    "stool": [
        ((0.0, 0.7, 0.0), "in", 0.0),
        ((0.3, 0.7, 0.0), "in", 0.0),  # round seat
        *[
            ((sx * _STOOL_LEG_R0 * 0.7071, 0.0, sz * _STOOL_LEG_R0 * 0.7071), "in", 1.0)
            for sx in (-1, 1)
            for sz in (-1, 1)
        ],
        ((0.0, 0.0, 0.0), "out", None),
        ((0.0, 0.3, 0.0), "out", None),
        ((0.35, 0.7, 0.35), "out", None),
    ],
    "bowl": [
        ((0.509, -0.038, 0.0), "in", 0.0),
        ((0.0, -0.22, 0.0), "in", 0.0),  # wall, bottom
        ((0.0, -0.13, 0.0), "out", None),
        ((0.0, 0.2, 0.0), "out", None),
        ((0.0, 0.45, 0.0), "out", None),
    ],
    "vase": [
        ((0.513, -0.26, 0.0), "in", 0.0),
        ((0.0, 0.5, 0.165), "in", 0.0),
        ((0.0, -0.72, 0.0), "in", 0.0),
        ((0.0, -0.25, 0.0), "out", None),
        ((0.0, 0.5, 0.0), "out", None),  # hollow, open neck
        ((0.4, 0.45, 0.0), "out", None),
        ((0.0, 0.78, 0.0), "out", None),  # narrow neck, open top
    ],
    "skateboard": [
        ((0.0, 0.04, 0.0), "in", 0.0),
        ((0.72, 0.123, 0.0), "in", 0.0),  # deck, kicked-up tail
        *[((sx * 0.5, -0.14, sz * 0.15), "in", 1.0) for sx in (-1, 1) for sz in (-1, 1)],  # wheels
        ((0.72, 0.04, 0.0), "out", None),
        ((0.0, -0.14, 0.0), "out", None),
        ((0.0, 0.04, 0.3), "out", None),
    ],
    "knife": [
        ((0.2, 0.0, 0.0), "in", 0.0),
        ((-0.5, 0.03, 0.0), "in", 1.0),  # blade, handle
        ((0.7, -0.1, 0.0), "out", None),
        ((0.2, 0.0, 0.1), "out", None),
        ((0.2, 0.3, 0.0), "out", None),
    ],
    "plate": [
        ((0.0, -0.05, 0.0), "in", 0.0),
        ((0.71, 0.06, 0.0), "in", 1.0),  # well, raised rim
        ((0.0, 0.05, 0.0), "out", None),
        ((0.0, -0.15, 0.0), "out", None),
    ],
    "mug": [
        ((_MUG_X, 0.0, 0.46), "in", 0.0),
        ((_MUG_X, -0.68, 0.0), "in", 0.0),  # wall, bottom
        ((_MUG_X + 0.76, 0.0, 0.0), "in", 1.0),  # handle
        ((_MUG_X, 0.0, 0.0), "out", None),
        ((_MUG_X + 0.61, 0.0, 0.0), "out", None),  # cup, handle hole
    ],
    "table": [
        ((0.0, 0.42, 0.0), "in", 0.0),
        *[((sx * 0.68, 0.0, sz * 0.43), "in", 1.0) for sx in (-1, 1) for sz in (-1, 1)],
        ((0.0, 0.0, 0.0), "out", None),
        ((0.0, 0.6, 0.0), "out", None),
    ],
    "lamp": [
        ((0.0, -0.2, 0.0), "in", 1.0),
        ((0.25, -0.76, 0.0), "in", 1.0),
        ((0.36, 0.49, 0.0), "in", 0.0),
        ((0.3, -0.2, 0.0), "out", None),
        ((0.0, 0.6, 0.0), "out", None),  # beside stem, in the shade
    ],
    "donut": [
        ((0.52, 0.2, 0.0), "in", 0.0),
        ((0.0, -0.2, -0.52), "in", 1.0),  # icing on top, dough below
        ((0.0, 0.0, 0.0), "out", None),
        ((0.52, 0.35, 0.0), "out", None),
    ],
}


def test_every_shape_has_probes():
    assert set(PROBES) == set(ALL_SHAPES)


@pytest.mark.parametrize("shape", ALL_SHAPES)
def test_shape_is_recognisable(shape):
    pts = torch.tensor([p for p, _, _ in PROBES[shape]])
    sdf, tone = shape_sdf(shape, pts)
    for (p, kind, want_tone), d, t in zip(PROBES[shape], sdf.tolist(), tone.tolist()):
        if kind == "in":
            assert d < -0.025, f"{shape}: {p} should be deep inside, sdf {d:.3f}"
            if want_tone is not None:
                assert t == want_tone, f"{shape}: {p} should have tone {want_tone}, got {t}"
        else:
            assert d > 0.02, f"{shape}: {p} should be outside, sdf {d:.3f}"


def test_accepts_batched_points_and_rejects_bad_input():
    pts = torch.zeros(2, 5, 3)
    sdf, tone = shape_sdf("chair", pts)
    assert sdf.shape == tone.shape == (2, 5)
    with pytest.raises(ValueError, match="spoon"):
        shape_sdf("spoon", torch.zeros(4, 3))
    with pytest.raises(ValueError):
        shape_sdf("chair", torch.zeros(4, 2))
    with pytest.raises(ValueError):
        shape_bounds("spoon")
