"""Depth beside colour: the studio's depth targets against sphere tracing of the exact SDF, and
the depth term of the loss (hfcli/guidance/base.py: photometric_loss)."""

import torch

from hfcli.guidance.base import RayBatch, photometric_loss
from hfcli.guidance.studio import StudioGuidance
from hfcli.render import cameras as cams
from hfcli.render.renderer import RenderOutput
from hfcli.studio.shapes import shape_sdf
from hfcli.studio.truth import ShapeGeometry


def sphere_trace(shape: str, o: torch.Tensor, d: torch.Tensor, steps: int = 100) -> torch.Tensor:
    """Distance along each ray to the shape's zero level (inf where the ray misses)."""
    t = torch.zeros(len(o))
    for _ in range(steps):
        s = shape_sdf(shape, o + t[:, None] * d)[0]
        t = (t + s.clamp_min(0)).clamp_max(10.0)  # an exact SDF never steps through the surface
    hit = shape_sdf(shape, o + t[:, None] * d)[0].abs() < 2e-3
    return torch.where(hit, t, torch.full_like(t, float("inf")))


def test_studio_depth_is_where_the_exact_surface_is():
    o, d = cams.random_rays(1000, torch.Generator().manual_seed(3))
    geo = ShapeGeometry("bowl").render(o, d)
    opacity, depth = geo[:, 0], geo[:, 2]
    traced = sphere_trace("bowl", o, d)
    solid = (opacity > 0.99) & traced.isfinite()
    assert solid.sum() > 100
    # The truth's boundary is soft (BETA = 0.01): its expected termination sits about the zero
    # level (0.005 median off it), further only on rays that graze the surface.
    err = (depth[solid] / opacity[solid] - traced[solid]).abs()
    assert float(err.median()) < 0.01 and float(err.quantile(0.75)) < 0.02
    assert float(depth[~traced.isfinite() & (opacity < 1e-3)].abs().max()) < 1e-2  # misses: no depth


def test_studio_batches_carry_depth_only_the_loss_asked_for_weighs_in():
    guidance = StudioGuidance(["a red bowl"], rays_per_step=256, pool_rays=1024, seed=0, depth_weight=2.0)
    batch = guidance.sample(torch.Generator().manual_seed(0))
    assert batch.depth is not None and batch.depth.shape == (256,)
    render = RenderOutput(batch.target.clone(), torch.ones(256), batch.depth + 0.01, 0)
    loss, figures = guidance.loss(render, batch)
    assert abs(float(loss) - 2.0 * 1e-4) < 1e-8 and abs(figures["depth_mse"] - 1e-4) < 1e-8  # squared, small
    render.depth = batch.depth + 0.3  # beyond DEPTH_HUBER: linear, 2 * 0.05 * (0.3 - 0.025)
    loss, figures = guidance.loss(render, batch)
    assert abs(float(loss) - 2.0 * 0.0275) < 1e-6 and abs(figures["depth_mse"] - 0.09) < 1e-6
    colour_only, figures = photometric_loss(render, batch, 0.0)
    assert float(colour_only) == 0.0 and "depth_mse" not in figures


def test_the_depth_term_pulls_a_surface_to_the_target_depth():
    """d(loss)/d(depth) has the sign that moves the render's depth towards the target's."""
    batch = RayBatch(torch.zeros(4, 3), torch.ones(4, 3), torch.zeros(4, dtype=torch.long), torch.ones(3))
    batch.target, batch.depth = torch.full((4, 3), 0.5), torch.tensor([1.0, 2.0, 3.0, 0.0])
    depth = torch.tensor([1.5, 1.5, 1.5, 1.5], requires_grad=True)
    loss, _ = photometric_loss(RenderOutput(torch.full((4, 3), 0.5), torch.ones(4), depth, 0), batch, 1.0)
    loss.backward()
    assert torch.equal(torch.sign(depth.grad), torch.tensor([1.0, -1.0, -1.0, 1.0]))
