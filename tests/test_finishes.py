"""Surface finishes: each pattern against hand-checked points, and the ground truth that renders them."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from hfcli.guidance.studio import StudioGuidance
from hfcli.render import cameras as cams
from hfcli.render.renderer import render_image_batches
from hfcli.studio import finishes as fin
from hfcli.studio.dataset import write_dataset
from hfcli.studio.finishes import pattern
from hfcli.studio.truth import (
    BETA,
    GT_STEP,
    SIGMA_MAX,
    GroundTruth,
    ShapeGeometry,
    colorize,
    scene_query,
    sdf_and_normal,
    shade_factor,
    shell_grid,
)
from hfcli.studio.vocab import FINISHES, StudioPrompt


def at(*points) -> torch.Tensor:
    return torch.tensor(points, dtype=torch.float32)


def box_points(n: int = 20000) -> torch.Tensor:
    return (torch.rand(n, 3, generator=torch.Generator().manual_seed(1)) * 2 - 1) * 0.85


def test_every_finish_has_a_pattern_in_range():
    pts = box_points()
    for finish in FINISHES:
        v = pattern(finish, pts)
        assert v.shape == (len(pts),)
        assert v.min() > 0.1 and v.max() <= 1.0, finish
        if finish != "plain":
            assert v.std() > 0.05, f"{finish} barely varies"
    assert torch.equal(pattern("plain", pts), torch.ones(len(pts)))
    with pytest.raises(ValueError, match="unknown finish"):
        pattern("tartan", pts)


def test_stripes_are_light_on_band_centres_and_dark_between():
    d = torch.tensor(fin.STRIPE_DIR)
    p = fin.STRIPE_PERIOD
    light = torch.stack([k * p * d for k in (-2, 0, 1, 3)])
    dark = torch.stack([(k + 0.5) * p * d for k in (-2, 0, 1, 3)])
    assert torch.allclose(pattern("striped", light), torch.ones(4))
    assert torch.allclose(pattern("striped", dark), torch.full((4,), fin.DARK))
    # Moving along a stripe (perpendicular to its direction) keeps the tone.
    along_band = dark + torch.tensor([0.0, 0.0, 0.37])
    assert torch.allclose(pattern("striped", along_band), torch.full((4,), fin.DARK))


def test_checker_cells_alternate():
    c, o = fin.CHECK_CELL, fin.CHECK_OFFSET

    def centre(i, j, k):
        return [(n + 0.5) * c - o for n in (i, j, k)]

    even = at(centre(0, 0, 0), centre(1, 1, 0), centre(-1, 0, 1), centre(2, 1, 1))
    odd = at(centre(1, 0, 0), centre(1, 1, 1), centre(0, 0, -1), centre(-2, 1, 0))
    assert torch.allclose(pattern("checkered", even), torch.ones(4))
    assert torch.allclose(pattern("checkered", odd), torch.full((4,), fin.DARK))


def test_dots_sit_on_the_fcc_lattice():
    h = fin.DOT_SPACING
    on = at([0, 0, 0], [h, h, 0], [0, -h, h], [2 * h, 0, 0], [-h, 2 * h, h])
    off = at([h, 0, 0], [0, 0, h], [h, h, h], [h / 2, h / 2, h / 2 + h])  # odd points and holes
    assert torch.allclose(pattern("dotted", on), torch.full((5,), fin.DARK))
    assert torch.allclose(pattern("dotted", off), torch.ones(4))
    # nearest_dot against brute force over the lattice points near the box.
    pts = box_points(500)
    r = torch.arange(-8, 9, dtype=torch.float32)
    grid = torch.stack(torch.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    lattice = grid[grid.sum(-1).remainder(2) == 0] * h
    brute = torch.cdist(pts, lattice).amin(dim=1)
    assert torch.allclose(torch.linalg.vector_norm(pts - fin.nearest_dot(pts), dim=-1), brute, atol=1e-5)


def yarn_point(a: float, ring: float, radius: float = 0.5) -> list[float]:
    """The point at stitch coordinate a (0 = a stitch's centre line) and ring coordinate `ring`."""
    theta = 2 * math.pi * a / fin.YARN_STITCHES
    y = ring - fin.RING_SLOPE * radius
    return [radius * math.sin(theta), y, radius * math.cos(theta)]


def test_yarn_grooves_repeat_along_y_and_bend_into_vs():
    row, chev = fin.YARN_ROW, fin.YARN_CHEVRON
    # On a leg (a = 0.25) a row groove lies at ring = row * (k + chev / 4), its strand centre half a row up.
    grooves = at(*[yarn_point(0.25, row * (k + chev / 4)) for k in (-2, 0, 3)])
    strands = at(*[yarn_point(0.25, row * (k + 0.5 + chev / 4)) for k in (-2, 0, 3)])
    # (atol: the strand profile is a square root, steep at a groove, so float rounding shows.)
    assert torch.allclose(pattern("yarn", grooves), torch.full((3,), fin.YARN_GROOVE), atol=2e-3)
    assert torch.allclose(pattern("yarn", strands), torch.ones(3), atol=1e-5)
    # The groove between a V's two legs (a = 0) and between stitches (a = 0.5), at any height.
    legs = at(yarn_point(0.0, 0.1), yarn_point(0.5, 0.13), yarn_point(-0.5, -0.3))
    assert torch.allclose(pattern("yarn", legs), torch.full((3,), fin.YARN_GROOVE), atol=2e-3)
    # Periodic along y with the row height; the V: the groove rises towards a stitch's edge.
    pts = box_points(2000) * torch.tensor([1.0, 0.7, 1.0])
    assert torch.allclose(pattern("yarn", pts), pattern("yarn", pts + torch.tensor([0, row, 0])), atol=1e-4)
    rising = at(yarn_point(0.05, row * chev * 0.05), yarn_point(0.45, row * chev * 0.45))
    assert torch.allclose(pattern("yarn", rising), torch.full((2,), fin.YARN_GROOVE), atol=2e-3)


def test_plaid_crossings_are_darker_than_bands():
    p = fin.PLAID_PERIOD
    none, one, two, three = at([p / 2] * 3), at([0, p / 2, p / 2]), at([p, -p, p / 2]), at([0, p, -2 * p])
    k = fin.PLAID_DARK
    assert torch.allclose(pattern("plaid", none), torch.ones(1))
    assert torch.allclose(pattern("plaid", one), torch.full((1,), k))
    assert torch.allclose(pattern("plaid", two), torch.full((1,), k * k))
    assert torch.allclose(pattern("plaid", three), torch.full((1,), k**3))


def test_marble_has_veins_and_is_deterministic():
    pts = box_points()
    v = pattern("marbled", pts)
    assert torch.equal(v, pattern("marbled", pts.clone()))
    assert v.min() < 0.5 and v.max() > 0.9
    assert 0.05 < (v < 0.75).float().mean() < 0.4  # veins, not a second ground


def test_plain_shade_is_the_unpatterned_formula_bit_for_bit():
    pts = box_points(4000)
    albedo = torch.tensor([0.85, 0.10, 0.12])
    sigma, rgb = scene_query("chair", albedo)(pts)
    sdf, normal, tone = sdf_and_normal("chair", pts)
    assert torch.equal(sigma, SIGMA_MAX * torch.sigmoid(-sdf / BETA))
    assert torch.equal(rgb, albedo * shade_factor(normal, tone)[:, None])


def small_view(resolution: int = 24, az: float = 30.0, el: float = 20.0):
    o, d = cams.image_rays(cams.orbit_cameras([az], [el]), resolution)
    return o[0], d[0]


def test_colour_is_linear_in_the_albedo():
    o, d = small_view()
    geo = ShapeGeometry("bowl", "striped").render(o, d)
    grid = shell_grid("bowl")
    ids = torch.zeros(len(o), dtype=torch.long)
    for albedo in (torch.tensor([0.85, 0.10, 0.12]), torch.tensor([0.15, 0.35, 0.85])):
        with torch.no_grad():
            direct = render_image_batches(
                scene_query("bowl", albedo, "striped"), o, d, ids, grid, torch.ones(3), GT_STEP
            )
        assert (colorize(geo, albedo) - direct.rgb).abs().max() < 1e-5


def test_a_striped_bowl_shows_its_bands_down_a_column():
    # Camera on +z at the bowl's height: down the centre column the front wall has x ≈ 0, so the
    # stripe coordinate is y / sqrt(2): dark bands centred at y = ±sqrt(2) * period / 2 = ±0.18,
    # light ones at y = 0 and ±0.37, over the wall's y range (-0.32, 0.44).
    res = 64
    o, d = cams.image_rays(cams.orbit_cameras([0.0], [0.0]), res)
    col = torch.arange(res) * res + res // 2
    striped = ShapeGeometry("bowl", "striped").render(o[0, col], d[0, col])
    plain = ShapeGeometry("bowl").render(o[0, col], d[0, col])
    hit = striped[:, 0] > 0.99
    ratio = (striped[hit, 1] / plain[hit, 1]).tolist()  # the pattern, with the light divided out
    tones = [r < (1 + fin.DARK) / 2 for r in ratio]
    runs = [t for i, t in enumerate(tones) if i == 0 or t != tones[i - 1]]
    assert runs == [False, True, False, True, False], ratio
    assert min(ratio) < fin.DARK + 0.05 and max(ratio) > 0.95
    # The light run in the middle is at y = 0: the image's middle row (the camera is level).
    rows = hit.nonzero()[:, 0].tolist()
    middle = rows.index(res // 2)
    assert ratio[middle] > 0.95


def test_ground_truth_keys_geometry_by_shape_and_finish():
    truth = GroundTruth(["a red bowl", "a blue striped bowl", "a green bowl", "a yarn bowl"])
    assert set(truth.geometry) == {("bowl", "plain"), ("bowl", "striped"), ("bowl", "yarn")}
    cam = cams.orbit_cameras([45.0], [30.0])
    red, red_alpha = truth.views(0, cam, 16)
    striped, striped_alpha = truth.views(1, cam, 16)
    assert torch.allclose(red_alpha, striped_alpha, atol=1e-6)  # a finish leaves the geometry alone
    assert not torch.allclose(red, striped)
    assert torch.allclose(truth.views(3, cam, 16)[0], truth.views(3, cam, 16)[0])
    assert truth.albedos[3].tolist() == pytest.approx(StudioPrompt("bowl", None, "yarn").albedo)


def old_pool_targets(prompts, pool_rays, seed, shapes):
    """StudioGuidance's pools as they were before finishes: one per shape, the plain formula
    (opacity and shade; the depth channel came later)."""
    gen = torch.Generator().manual_seed(seed + 7919)
    pools = {}
    for shape in shapes:
        o, d = cams.random_rays(pool_rays, gen)
        query = scene_query(shape, torch.tensor([1.0, 0.0, 0.0]))

        def channels(points, scene, query=query):
            sigma, rgb = query(points, scene)
            return sigma, torch.stack([torch.ones_like(sigma), rgb[:, 0], torch.zeros_like(sigma)], dim=-1)

        ids = torch.zeros(len(o), dtype=torch.long)
        with torch.no_grad():
            out = render_image_batches(channels, o, d, ids, shell_grid(shape), torch.zeros(3), GT_STEP)
        pools[shape] = out.rgb[:, :2]
    return pools


def test_plain_guidance_targets_are_unchanged():
    prompts = ["a red bowl", "a blue knife", "a green bowl"]
    guidance = StudioGuidance(prompts, rays_per_step=96, pool_rays=2048, seed=3)
    guidance.prepare()
    assert set(guidance._pools) == {("bowl", "plain"), ("knife", "plain")}
    old = old_pool_targets(prompts, 2048, 3, ["bowl", "knife"])
    for shape in ("bowl", "knife"):
        assert torch.equal(guidance._pools[shape, "plain"][2][:, :2], old[shape])
    batch = guidance.sample(torch.Generator().manual_seed(0))
    assert batch.target.shape == (96, 3)


def test_guidance_colours_a_finish_from_its_own_pool():
    guidance = StudioGuidance(["a red bowl", "a blue striped bowl"], rays_per_step=1000, pool_rays=2048)
    batch = guidance.sample(torch.Generator().manual_seed(0))
    for scene, key in ((0, ("bowl", "plain")), (1, ("bowl", "striped"))):
        o, d, geo = guidance._pools[key]
        mine = batch.scene_ids == scene
        idx = torch.cdist(batch.rays_d[mine], d).argmin(dim=1)  # where each drawn ray sits in the pool
        assert torch.equal(batch.rays_o[mine], o[idx])
        assert torch.equal(batch.target[mine], colorize(geo[idx], guidance.truth.albedos[scene]))
    striped, plain = guidance._pools["bowl", "striped"][2], guidance._pools["bowl", "plain"][2]
    assert not torch.equal(striped, plain)


def test_dataset_pngs_hold_the_finish(tmp_path):
    prompt = StudioPrompt("bowl", "red", "checkered")
    out = write_dataset(prompt, tmp_path / "ds", n_views=2, resolution=24)
    meta = json.loads((out / "transforms.json").read_text())
    assert meta["finish"] == "checkered" and meta["albedo"] == pytest.approx(prompt.albedo)
    geometry = ShapeGeometry("bowl", "checkered")
    c2w = torch.tensor([f["transform_matrix"] for f in meta["frames"]])
    o, d = cams.image_rays(cams.Cameras(c2w, meta["camera_angle_x"]), 24)
    for i, frame in enumerate(meta["frames"]):
        rgba = np.asarray(Image.open(out / frame["file_path"]), dtype=np.float32) / 255
        composited = torch.from_numpy(rgba[..., :3] * rgba[..., 3:] + 1 - rgba[..., 3:])
        expected = colorize(geometry.render(o[i], d[i]), torch.tensor(prompt.albedo)).reshape(24, 24, 3)
        assert (composited - expected).abs().max() < 3 / 255
