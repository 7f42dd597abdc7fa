"""Metrics against values computed by hand."""

import math

import numpy as np
import torch

from hfcli.metrics import SSIM_C1, chamfer, iou, psnr, ssim


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
