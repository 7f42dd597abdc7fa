"""The torch raymarcher: compositing by hand, gradients by finite differences, grid skipping."""

import math

import torch

from hfcli.render import raymarch_torch as rm


def test_composite_matches_hand_computed_case():
    # Ray 0: two samples, tau 0.5 each. Ray 1: no samples. Ray 2: an opaque sample first.
    sigmas = torch.tensor([1.0, 2.0, 1000.0, 5.0])
    t_starts = torch.tensor([0.0, 0.5, 1.0, 1.1])
    t_ends = torch.tensor([0.5, 0.75, 1.1, 1.2])
    rgbs = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [1.0, 1.0, 1.0]])
    ray_indices = torch.tensor([0, 0, 2, 2])
    rgb, opacity, depth = rm.composite(sigmas, rgbs, ray_indices, t_starts, t_ends, n_rays=3)

    a = 1 - math.exp(-0.5)
    w0, w1 = a, math.exp(-0.5) * a
    torch.testing.assert_close(rgb[0], torch.tensor([w0, w1, 0.0]))
    assert math.isclose(float(opacity[0]), 1 - math.exp(-1.0), rel_tol=1e-6)
    assert math.isclose(float(depth[0]), w0 * 0.25 + w1 * 0.625, rel_tol=1e-6)
    assert float(opacity[1]) == 0 and rgb[1].abs().sum() == 0
    # Ray 2 terminates after its first sample (T = e^-100 < eps): the white sample adds nothing.
    torch.testing.assert_close(rgb[2], torch.tensor([0.0, 0.0, 1.0]))


def test_ray_aabb_hits_and_misses():
    aabb = torch.tensor([-1.0, -1, -1, 1, 1, 1])
    o = torch.tensor([[0.0, 0, -3], [0.0, 5, -3], [0.0, 0, 0]])
    d = torch.tensor([[0.0, 0, 1], [0.0, 0, 1], [1.0, 0, 0]])
    near, far = rm.ray_aabb(o, d, aabb)
    torch.testing.assert_close(near[0], torch.tensor(2.0))
    torch.testing.assert_close(far[0], torch.tensor(4.0))
    assert far[1] <= near[1]  # misses
    assert near[2] == 0 and far[2] == 1  # starts inside


def test_march_covers_the_box_contiguously():
    o = torch.tensor([[0.0, 0.0, -3.0]])
    d = torch.tensor([[0.0, 0.0, 1.0]])
    idx, t0, t1 = rm.march(
        o,
        d,
        torch.zeros(1, dtype=torch.long),
        None,
        torch.tensor([-1.0, -1, -1, 1, 1, 1]),
        0.1,
        jitter=torch.tensor([0.37]),
    )
    assert float(t0[0]) == 2.0 and math.isclose(float(t1[-1]), 4.0, rel_tol=1e-6)
    torch.testing.assert_close(t0[1:], t1[:-1])  # no gaps, no overlaps
    assert bool((idx == 0).all())


def test_composite_gradients_match_finite_differences():
    gen = torch.Generator().manual_seed(1)
    n = 12
    ray_indices = torch.tensor([0] * 5 + [1] * 4 + [3] * 3)
    t_starts = torch.rand(n, generator=gen, dtype=torch.float64).sort().values
    t_ends = t_starts + 0.05 + 0.1 * torch.rand(n, generator=gen, dtype=torch.float64)
    sigmas = (2 * torch.rand(n, generator=gen, dtype=torch.float64)).requires_grad_()
    rgbs = torch.rand(n, 3, generator=gen, dtype=torch.float64).requires_grad_()

    def f(s, c):
        rgb, opacity, depth = rm.composite(s, c, ray_indices, t_starts, t_ends, n_rays=4)
        return rgb, opacity, depth

    assert torch.autograd.gradcheck(f, (sigmas, rgbs), eps=1e-6, atol=1e-6)
