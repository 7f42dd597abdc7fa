"""Metrics against values computed by hand."""

import math

import numpy as np
import torch

from hfcli.export import extract_mesh
from hfcli.metrics import SSIM_C1, chamfer, iou, psnr, ssim, surface_figures


def test_psnr_known_value():
    a = torch.zeros(8, 8, 3)
    b = torch.full((8, 8, 3), 0.1)  # mse 0.01 → 20 dB
    assert math.isclose(psnr(a, b), 20.0, rel_tol=1e-6)


def test_ssim_of_identical_images_is_one():
    x = torch.rand(32, 32, 3, generator=torch.Generator().manual_seed(0))
    assert math.isclose(ssim(x, x), 1.0, rel_tol=1e-9)


def test_ssim_of_constant_images_has_closed_form():
    # No variance: SSIM = (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1).
    a, b = torch.full((16, 16, 3), 0.2), torch.full((16, 16, 3), 0.7)
    expected = (2 * 0.2 * 0.7 + SSIM_C1) / (0.2**2 + 0.7**2 + SSIM_C1)
    assert math.isclose(ssim(a, b), expected, rel_tol=1e-6)


def test_ssim_drops_with_noise():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(32, 32, 3, generator=gen)
    noisy = (x + 0.2 * torch.randn(32, 32, 3, generator=gen)).clamp(0, 1)
    assert ssim(x, noisy) < 0.9


def test_iou():
    a = torch.tensor([True, True, False, False])
    b = torch.tensor([True, False, True, False])
    assert math.isclose(iou(a, b), 1 / 3, rel_tol=1e-6)
    assert iou(torch.zeros(3, dtype=torch.bool), torch.zeros(3, dtype=torch.bool)) == 1.0


def test_chamfer_hand_case():
    pred = np.array([[0.0, 0, 0], [1.0, 0, 0]])
    true = np.array([[0.0, 0, 0.5], [1.0, 0, 0]])
    # pred → surface given as 0.1 each; true → pred: 0.5 and 0.
    assert math.isclose(chamfer(pred, true, np.array([0.1, 0.1])), 0.5 * (0.1 + 0.25))


def _sphere_sdf(p: torch.Tensor) -> torch.Tensor:
    return p.norm(dim=-1) - 0.6


def _sphere_mesh():
    return extract_mesh(
        lambda p: -_sphere_sdf(p), lambda p: torch.zeros(len(p), 3), threshold=0.0, resolution=48, fill_cavities=False
    )


def test_surface_figures_of_a_marching_cubes_sphere_are_near_exact():
    mesh = _sphere_mesh()
    fig = surface_figures(mesh.vertices, mesh.faces, _sphere_sdf)
    assert fig["normal_consistency"] > 0.99
    assert fig["faces_off_30"] < 0.001
    assert fig["surface_distance"] < 0.002  # a voxel is 2/47 ≈ 0.043
    # Winding does not matter: |cos|.
    assert surface_figures(mesh.vertices, mesh.faces[:, ::-1], _sphere_sdf) == fig


def test_surface_figures_of_a_noisy_sphere_are_clearly_worse():
    mesh = _sphere_mesh()
    noisy = mesh.vertices + np.random.default_rng(0).normal(0.0, 0.01, mesh.vertices.shape)
    clean = surface_figures(mesh.vertices, mesh.faces, _sphere_sdf)
    fig = surface_figures(noisy, mesh.faces, _sphere_sdf)
    assert fig["normal_consistency"] < 0.9
    assert fig["faces_off_30"] > 0.2
    assert fig["surface_distance"] > 3 * clean["surface_distance"]


def test_surface_figures_hand_case_is_area_weighted():
    # Against the plane z = 0: a flat face of area 0.5, and a face of area 2 tilted 45° about x.
    c = math.sqrt(0.5)
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [2, 0, 0], [4, 0, 0], [2, 2 * c, 2 * c]], dtype=np.float64)
    faces = np.array([[0, 1, 2], [3, 4, 5]])
    fig = surface_figures(vertices, faces, lambda p: p[:, 2])
    assert math.isclose(fig["normal_consistency"], (0.5 * 1 + 2 * c) / 2.5, rel_tol=1e-5)
    assert math.isclose(fig["faces_off_30"], 2 / 2.5)
    assert math.isclose(fig["surface_distance"], 2 * (2 * c / 3) / 2.5, rel_tol=1e-5)  # the tilted centroid's height
    by_count = surface_figures(vertices, faces, lambda p: p[:, 2], area_weighted=False)
    assert math.isclose(by_count["faces_off_30"], 0.5)
    assert math.isclose(by_count["normal_consistency"], (1 + c) / 2, rel_tol=1e-5)
    # Tilted 25° instead: within 30°, nothing is off.
    t = math.radians(25)
    vertices[5] = (2, 2 * math.cos(t), 2 * math.sin(t))
    assert surface_figures(vertices, faces, lambda p: p[:, 2])["faces_off_30"] == 0.0
