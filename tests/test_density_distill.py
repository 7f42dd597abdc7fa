"""distill --density-weight: the student matches its teachers' density at points about their
surfaces and anywhere in the box (hfcli/guidance/teachers.py), not only their renders."""

import pytest
import torch
from scipy.spatial import cKDTree

from hfcli import checkpoint as ck
from hfcli.config import DistillConfig
from hfcli.guidance.base import DENSITY_BAND, VOLUME_EVERY, density_loss
from hfcli.guidance.teachers import WHITE, TeacherGuidance
from hfcli.model import PromptModel
from hfcli.render.renderer import render_image_batches
from hfcli.scene import box_tensor
from hfcli.train.distill import distill
from hfcli.train.distributed import RankShare
from tests.test_distill import teachers  # noqa: F401  (the module fixture: two tiny teachers)
from tests.test_teach import small_config


def _scenes(paths):
    models = [PromptModel.from_checkpoint(ck.load(p, kinds=("teacher",))) for p in paths]
    return [m.bake(m.prompts[:1])[0] for m in models]


def _as_rendered(scene, points: torch.Tensor) -> torch.Tensor:
    """The teacher's density where its grid lets the marcher sample (the cell whose centre is
    nearest, found apart from OccupancyGrid.contains), else 0."""
    _, cell = cKDTree(scene.grid.cell_centers().numpy()).query(points.numpy())
    occupied = scene.grid.occupied[0].reshape(-1)[torch.as_tensor(cell)]
    return torch.where(occupied, scene.density(points), 0.0)


def test_teacher_batches_carry_points_about_the_surface_with_the_teachers_density(teachers):  # noqa: F811
    scenes = _scenes(teachers)
    for scene in scenes:  # culled cells, so the grid's part in the targets is tested
        scene.grid.occupied[0, :, :8] = False
    guidance = TeacherGuidance(scenes, rays_per_step=512, density_weight=1.0)
    batch = guidance.sample(torch.Generator().manual_seed(0))
    assert batch.points is not None and len(batch.points) > 50
    assert torch.equal(batch.point_ids, batch.point_ids.sort().values)  # grouped by scene, as the rays
    lo, hi = box_tensor()[:3], box_tensor()[3:]
    band = []
    for s, scene in enumerate(scenes):
        rows = batch.point_ids == s
        # every VOLUME_EVERY-th ray of the step (by index) adds a point anywhere in the box, last
        n_volume = int(((batch.scene_ids == s) & (torch.arange(512) % VOLUME_EVERY == 0)).sum())
        points, sigma = batch.points[rows], batch.point_density[rows]
        assert int(rows.sum()) > n_volume + 10
        # an independent query of the teacher, as its renders see it, gives the targets
        with torch.no_grad():
            assert torch.allclose(sigma, _as_rendered(scene, points), atol=1e-5)
        volume = points[-n_volume:]
        assert bool(((volume >= lo) & (volume <= hi)).all()) and float(volume[:, 1].std()) > 0.4
        assert int((sigma[-n_volume:] == 0).sum()) > 0.2 * n_volume  # some fall in culled cells
        band.append(points[:-n_volume])
    band = torch.cat(band)
    # Each band point lies on a ray its teacher renders mostly opaque, in order, within the band of
    # where that ray ends (the teachers' renders redone here).
    o, d, ends = [], [], []
    for s, scene in enumerate(scenes):
        rows = batch.scene_ids == s
        ids = torch.zeros(int(rows.sum()), dtype=torch.long)
        render = render_image_batches(scene.query, batch.rays_o[rows], batch.rays_d[rows], ids, scene.grid, WHITE)
        hit = render.opacity > 0.5
        o.append(batch.rays_o[rows][hit]), d.append(batch.rays_d[rows][hit])
        ends.append(render.depth[hit] / render.opacity[hit])
    o, d, ends = torch.cat(o), torch.cat(d), torch.cat(ends)
    along = ((band - o) * d).sum(-1) / (d * d).sum(-1)
    assert torch.allclose(o + d * along[:, None], band, atol=1e-5)  # on the ray
    offset = along - ends
    assert float(offset.abs().max()) <= DENSITY_BAND + 1e-5 and float(offset.std()) > DENSITY_BAND / 3
    assert TeacherGuidance(scenes, rays_per_step=512).sample(torch.Generator().manual_seed(0)).points is None


def test_ranks_split_the_teachers_points_and_weigh_them_as_one_process(teachers):  # noqa: F811
    """Each rank draws the step's points for its share of the rays only (the volume points by ray
    index, so a scene split between ranks is not counted twice: 3 shares of 2 scenes' 194 rays);
    the mean of the ranks' point losses is the one-process loss."""
    scenes = _scenes(teachers)
    guidance = TeacherGuidance(scenes, rays_per_step=195, density_weight=1.0)
    full = guidance.sample(torch.Generator().manual_seed(4))
    shares = [RankShare(TeacherGuidance(scenes, 195, density_weight=1.0), r, 3) for r in range(3)]
    batches = [r.sample(torch.Generator().manual_seed(4)) for r in shares]
    assert torch.equal(torch.cat([b.points for b in batches]).sort(dim=0).values, full.points.sort(dim=0).values)
    sigma = lambda b: b.point_density * 1.5 + 1.0  # noqa: E731  (any student density)
    losses = [float(r.point_loss(sigma(b), b)) for r, b in zip(shares, batches)]
    assert sum(losses) / 3 == pytest.approx(float(guidance.point_loss(sigma(full), full)), rel=1e-5)


def test_density_loss_is_zero_on_the_target_and_grows_with_the_log_error():
    target = torch.tensor([0.0, 10.0, 100.0])
    assert float(density_loss(target, target)) == 0.0
    near, far = density_loss(target * 1.1, target), density_loss(target * 2.0, target)
    assert 0 < float(near) < float(far)


def test_the_density_term_copies_the_teachers_geometry(teachers, tmp_path):  # noqa: F811
    """Same seed and steps, with and without the term: with it the student's density about the
    teachers' surfaces is nearer theirs (log error at fresh points)."""
    errors = {}
    for weight in (0.0, 1.0):
        out = tmp_path / f"student_{weight}.safetensors"
        distill(teachers, None, out, small_config(40, DistillConfig, density_weight=weight))
        student = PromptModel.from_checkpoint(ck.load(out, kinds=("student",)))
        probe = TeacherGuidance(_scenes(teachers), rays_per_step=2048, density_weight=1.0)
        batch = probe.sample(torch.Generator().manual_seed(123))
        sigma = torch.cat(
            [s.density(batch.points[batch.point_ids == i]) for i, s in enumerate(student.bake(student.prompts))]
        )
        errors[weight] = float(density_loss(sigma.detach(), batch.point_density))
    assert errors[1.0] < 0.7 * errors[0.0], errors
