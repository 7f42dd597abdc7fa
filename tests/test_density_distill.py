"""distill --density-weight: the student matches its teachers' density at points about their
surfaces (hfcli/guidance/teachers.py), not only their renders."""

import torch

from hfcli import checkpoint as ck
from hfcli.config import DistillConfig
from hfcli.guidance.base import density_loss
from hfcli.guidance.teachers import DENSITY_BAND, WHITE, TeacherGuidance
from hfcli.model import PromptModel
from hfcli.render.renderer import render_image_batches
from hfcli.train.distill import distill
from tests.test_distill import teachers  # noqa: F401  (the module fixture: two tiny teachers)
from tests.test_teach import small_config


def _scenes(paths):
    models = [PromptModel.from_checkpoint(ck.load(p, kinds=("teacher",))) for p in paths]
    return [m.bake(m.prompts[:1])[0] for m in models]


def test_teacher_batches_carry_points_about_the_surface_with_the_teachers_density(teachers):  # noqa: F811
    scenes = _scenes(teachers)
    guidance = TeacherGuidance(scenes, rays_per_step=512, density_weight=1.0)
    batch = guidance.sample(torch.Generator().manual_seed(0))
    assert batch.points is not None and len(batch.points) > 50
    assert torch.equal(batch.point_ids, batch.point_ids.sort().values)  # grouped by scene, as the rays
    for s, scene in enumerate(scenes):
        rows = batch.point_ids == s
        assert int(rows.sum()) > 10
        # an independent query of the teacher gives the targets
        assert torch.allclose(batch.point_density[rows], scene.density(batch.points[rows]), atol=1e-5)
    # Each point lies on a ray its teacher renders mostly opaque, in order, within the band of
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
    along = ((batch.points - o) * d).sum(-1) / (d * d).sum(-1)
    assert torch.allclose(o + d * along[:, None], batch.points, atol=1e-5)  # on the ray
    offset = along - ends
    assert float(offset.abs().max()) <= DENSITY_BAND + 1e-5 and float(offset.std()) > DENSITY_BAND / 3
    assert TeacherGuidance(scenes, rays_per_step=512).sample(torch.Generator().manual_seed(0)).points is None


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
