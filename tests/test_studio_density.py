"""teach --density-weight: studio teachers match the studio's exact density at points about the
true surface and anywhere in the box (hfcli/guidance/studio.py), what no view pins: a toaster's
slot floors and its inside, its underside."""

import pytest
import torch

from hfcli import checkpoint as ck
from hfcli.guidance.base import DENSITY_BAND, VOLUME_EVERY, density_loss
from hfcli.guidance.studio import StudioGuidance
from hfcli.model import PromptModel
from hfcli.scene import box_tensor
from hfcli.studio.shapes import shape_sdf
from hfcli.studio.truth import SIGMA_MAX, ShapeGeometry, scene_query
from hfcli.train.distributed import RankShare
from hfcli.train.teach import teach
from tests.test_teach import small_config

PROMPTS = ["a red toaster", "a blue bowl"]


@pytest.fixture(scope="module")
def batch():
    guidance = StudioGuidance(PROMPTS, rays_per_step=512, pool_rays=4096, seed=0, density_weight=1.0)
    return guidance, guidance.sample(torch.Generator().manual_seed(0))


def test_studio_batches_carry_points_with_the_exact_density(batch):
    _, b = batch
    assert torch.equal(b.point_ids, b.point_ids.sort().values)  # grouped by scene, as the rays
    lo, hi = box_tensor()[:3], box_tensor()[3:]
    for s, shape in enumerate(("toaster", "bowl")):
        points, sigma = b.points[b.point_ids == s], b.point_density[b.point_ids == s]
        # an independent query: the studio field itself
        truth = scene_query(shape, torch.zeros(3))(points)[0]
        assert torch.allclose(sigma, truth, atol=1e-4)
        # Each ray the truth renders opaque gives a point, then every VOLUME_EVERY-th ray one anywhere.
        rays = b.scene_ids == s
        n_volume = int(rays.sum()) // VOLUME_EVERY
        band, volume = points[:-n_volume], points[-n_volume:]
        assert len(band) > 0.2 * int(rays.sum())
        # Band points lie on the scene's opaque rays, within DENSITY_BAND of where the truth's
        # render of each ray ends (rendered again here).
        o, d = b.rays_o[rays], b.rays_d[rays]
        along = ((band[:, None] - o[None]) * d[None]).sum(-1)  # [band, rays]
        off_ray = (band[:, None] - (o[None] + along[..., None] * d[None])).norm(dim=-1)
        assert float(off_ray.min(dim=1).values.max()) < 1e-4  # each on one of the rays
        ray = off_ray.argmin(dim=1)
        geo = ShapeGeometry(shape).render(o[ray], d[ray])
        assert bool((geo[:, 0] > 0.5).all())
        offset = along[torch.arange(len(band)), ray] - geo[:, 2] / geo[:, 0]
        assert float(offset.abs().max()) <= DENSITY_BAND + 1e-4 and float(offset.std()) > DENSITY_BAND / 3
        # Volume points fill the box: both sides of the surface, every octant.
        assert bool(((volume >= lo) & (volume <= hi)).all())
        assert float((volume.mean(0) - (lo + hi) / 2).abs().max()) < 0.25
        if shape == "toaster":  # a solid body: some inside, most outside
            assert 0.05 * n_volume < int((sigma[-n_volume:] > 50).sum()) < 0.5 * n_volume
    assert StudioGuidance(PROMPTS, rays_per_step=512, pool_rays=4096).sample(torch.Generator()).points is None


def test_two_ranks_weigh_the_studio_points_as_one_process(batch):
    """The studio gives every rank all the points (it does not render shares): the mean of the
    ranks' point losses is the one-process loss, not twice it."""
    guidance, b = batch
    sigma = torch.rand(len(b.points)) * 100
    full = float(guidance.point_loss(sigma, b))
    ranks = [RankShare(guidance, rank, 2) for rank in range(2)]
    losses = [float(r.point_loss(sigma, r.sample(torch.Generator().manual_seed(0)))) for r in ranks]
    assert sum(losses) / 2 == pytest.approx(full, rel=1e-6)


def test_the_density_term_pins_what_no_view_shows(tmp_path):
    """Same seed and steps, with and without the term: with it a toaster teacher's density deep
    inside the body, beyond the band about the surface (only the box points reach there), is
    nearer the truth's (log error)."""
    lo, hi = box_tensor()[:3], box_tensor()[3:]
    points = lo + (hi - lo) * torch.rand(20000, 3, generator=torch.Generator().manual_seed(9))
    deep = points[shape_sdf("toaster", points)[0] < -(DENSITY_BAND + 0.03)]
    assert len(deep) > 500
    errors = {}
    for weight in (0.0, 0.01):
        out = tmp_path / f"teacher_{weight}.safetensors"
        teach(["a red toaster"], out, small_config(60, density_weight=weight))
        scene = PromptModel.from_checkpoint(ck.load(out, kinds=("teacher",))).bake(["a red toaster"])[0]
        with torch.no_grad():
            sigma = torch.where(scene.grid.contains(deep), scene.density(deep), 0.0)
        errors[weight] = float(density_loss(sigma, torch.full_like(sigma, SIGMA_MAX)))
    assert errors[0.01] < 0.5 * errors[0.0], errors
