"""Image and shape metrics, as pure functions of tensors and arrays."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01**2  # (K1 L)^2 with K1 = 0.01, L = 1: the standard constants
SSIM_C2 = 0.03**2


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [0, 1]."""
    mse = torch.mean((a - b) ** 2).clamp_min(1e-10)
    return float(-10.0 * torch.log10(mse))


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Structural similarity of two images [H, W, C] in [0, 1] (Gaussian window, 'valid' region,
    mean over channels), as in Wang et al. 2004."""
    x = torch.stack([a, b]).permute(0, 3, 1, 2).double()  # [2, C, H, W]
    c = x.shape[1]
    r = torch.arange(SSIM_WINDOW, dtype=torch.float64) - SSIM_WINDOW // 2
    g = torch.exp(-(r**2) / (2 * SSIM_SIGMA**2))
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(c, 1, SSIM_WINDOW, SSIM_WINDOW)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, window, groups=c)

    mu = blur(x)
    mu_a, mu_b = mu[0], mu[1]
    var_a = blur(x[:1] ** 2)[0] - mu_a**2
    var_b = blur(x[1:] ** 2)[0] - mu_b**2
    cov = blur(x[:1] * x[1:])[0] - mu_a * mu_b
    num = (2 * mu_a * mu_b + SSIM_C1) * (2 * cov + SSIM_C2)
    den = (mu_a**2 + mu_b**2 + SSIM_C1) * (var_a + var_b + SSIM_C2)
    return float((num / den).mean())


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    """Intersection over union of two boolean masks of the same shape (1.0 when both are empty)."""
    union = (a | b).sum()
    return 1.0 if int(union) == 0 else float((a & b).sum() / union)


def chamfer(pred_points: np.ndarray, true_points: np.ndarray, pred_to_surface: np.ndarray) -> float:
    """Symmetric Chamfer distance: mean of (pred → true surface), given exactly per point as
    `pred_to_surface` [P] (|sdf|), and (true surface samples [T, 3] → nearest pred point)."""
    from scipy.spatial import cKDTree

    back, _ = cKDTree(pred_points).query(true_points)
    return float(0.5 * (np.mean(pred_to_surface) + np.mean(back)))
