"""Image and shape metrics, as pure functions of tensors and arrays."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# A tetrahedron's corners, sum k k^T = 4 I: sum_k k f(p + h k) / 4h is f's gradient at p, from
# four evaluations. The studio's normals, the sdf field's training terms and the surface
# figures below all take gradients with it.
TETRA = torch.tensor([[1.0, -1, -1], [-1, -1, 1], [-1, 1, -1], [1, 1, 1]])


def tetra_probes(points: torch.Tensor, step: float) -> torch.Tensor:
    """points [N, 3] → the stencil's points [N, 4, 3] (reshape to [4N, 3] to evaluate)."""
    return points[:, None, :] + step * TETRA.to(points.dtype)


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


# ───────────────────────────── mesh surface quality ─────────────────────────────

SURFACE_OFF_DEGREES = 30.0
SURFACE_CHUNK = 65536
_TETRA = TETRA.double().numpy()  # the stencil, for float64 arrays


def _sdf_values(sdf_fn, points: np.ndarray, chunk: int) -> np.ndarray:
    """sdf_fn (float32 tensor [N, 3] → [N]) on points [N, 3] in chunks, as float64 [N]."""
    outs = []
    with torch.no_grad():
        for s in range(0, len(points), chunk):
            p = torch.as_tensor(points[s : s + chunk], dtype=torch.float32)
            outs.append(np.asarray(torch.as_tensor(sdf_fn(p)).reshape(-1).double().cpu()))
    return np.concatenate(outs) if outs else np.zeros(0)


def surface_figures(
    vertices: np.ndarray,
    faces: np.ndarray,
    sdf_fn,
    *,
    step: float = 1e-3,
    area_weighted: bool = True,
    chunk: int = SURFACE_CHUNK,
) -> dict:
    """How smooth and how true a triangle mesh is against an exact signed distance, face by face.

    vertices [V, 3], faces [F, 3]; sdf_fn: float32 tensor points [N, 3] → signed distance [N]
    (evaluated SURFACE_CHUNK points at a time). The true normal of a face is the SDF's gradient
    at its centroid (tetrahedral stencil of half-width `step`, normalised); angles use |cos|, so
    the winding of the faces does not matter. Every figure is a mean over faces weighted by face
    area (with `area_weighted=False`: every face counts once, as a face count):

    normal_consistency: mean |cos| between the face normal and the true normal (1 = exact);
    faces_off_30: the share (0..1) of faces more than SURFACE_OFF_DEGREES off the true normal;
    surface_distance: mean |sdf| at the face centroids, in scene units.
    A face of zero area, or where the gradient vanishes, counts as |cos| = 0.
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    if len(f) == 0:
        raise ValueError("surface_figures needs at least one face")
    tri = v[f]  # [F, 3, 3]
    cross = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    twice_area = np.linalg.norm(cross, axis=1)
    centroids = tri.mean(axis=1)
    stencil = (centroids[:, None, :] + step * _TETRA[None]).reshape(-1, 3)
    values = _sdf_values(sdf_fn, np.concatenate([centroids, stencil]), chunk)
    distance = np.abs(values[: len(f)])
    grad = np.einsum("fk,kc->fc", values[len(f) :].reshape(len(f), 4), _TETRA)
    grad_norm = np.linalg.norm(grad, axis=1)
    denom = twice_area * grad_norm
    ok = denom > 1e-30
    cos = np.zeros(len(f))
    cos[ok] = np.abs(np.einsum("fc,fc->f", cross[ok], grad[ok])) / denom[ok]
    cos = np.clip(cos, 0.0, 1.0)
    weights = twice_area if area_weighted else np.ones(len(f))
    total = float(weights.sum())
    if total <= 0.0:
        raise ValueError("surface_figures needs a mesh of non-zero area")
    off = cos < np.cos(np.radians(SURFACE_OFF_DEGREES))
    return {
        "normal_consistency": float(np.dot(weights, cos) / total),
        "faces_off_30": float(np.dot(weights, off) / total),
        "surface_distance": float(np.dot(weights, distance) / total),
    }
