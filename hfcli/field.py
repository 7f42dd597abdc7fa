"""Field: a shared spatial encoding + an MLP whose weights are given, not owned.

`Field.query(points, weights)` is a pure function of its inputs, so a teacher, a student and a
baked NeRF all render through the same code: they differ only in where the weights come from.
On the C++ backend, float32 queries on the CPU run encoding and MLP fused per tile of points
(ext/raymarch/field_cpu.cpp); everything else runs the PyTorch code below, which it matches.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from . import scene
from .config import FieldConfig
from .render import backend

# Points per MLP pass without autograd: [chunk, hidden] activations stay in cache (on one
# core, 2^14 points per pass ran a 2^18-point query 1.7x faster than one pass).
INFERENCE_CHUNK = 1 << 14


# (W [out, in], b [out]) per layer; a leading prompt axis [P, ...] where batched.
MLPWeights = list[tuple[torch.Tensor, torch.Tensor]]


class Encoding(torch.nn.Module):
    """Tri-plane (xy, xz, yz) + coarse 3D grid, bilinear/trilinear, over `box` (min xyz, max xyz);
    points outside it take the features of the nearest face."""

    def __init__(self, cfg: FieldConfig, box: tuple[float, ...] = scene.BOX):
        super().__init__()
        self.cfg = cfg
        self.box = tuple(float(v) for v in box)  # not a buffer: state dicts stay as they were
        self.planes = torch.nn.Parameter(0.1 * torch.randn(3, cfg.plane_features, cfg.plane_res, cfg.plane_res))
        self.grid = torch.nn.Parameter(0.1 * torch.randn(1, cfg.grid_features, *(cfg.grid_res,) * 3))

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        """points: [N, 3] in the box → features [N, in_features]."""
        ops = backend.ops_for(points.device)
        if ops is not None and not points.requires_grad:
            return _CompiledEncoding.apply(ops, points, self.box, self.planes, self.grid, self._channels_last())
        return self.reference(points)

    def _channels_last(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The planes [3, R, R, C] and volume [G, G, G, C3] as the kernels read them, copied
        once per parameter update rather than once per query."""

        def copy(planes, grid):
            return planes.detach().permute(0, 2, 3, 1).contiguous(), grid.detach()[0].permute(1, 2, 3, 0).contiguous()

        return backend.derived(self, "_cl_cache", (self.planes, self.grid), copy)

    def reference(self, points: torch.Tensor) -> torch.Tensor:
        """The PyTorch encoding, which the compiled one (ext/raymarch/encoding.h) reproduces."""
        lo = torch.tensor(self.box[:3], dtype=points.dtype, device=points.device)
        hi = torch.tensor(self.box[3:], dtype=points.dtype, device=points.device)
        x = ((points - lo) / (hi - lo) * 2 - 1).clamp(-1, 1)
        # grid_sample wants (u, v) = (width, height) coordinates.
        uv = torch.stack([x[:, [0, 1]], x[:, [0, 2]], x[:, [1, 2]]])[:, :, None, :]  # [3, N, 1, 2]
        planes = F.grid_sample(self.planes, uv, align_corners=True, mode="bilinear")  # [3, C, N, 1]
        planes = planes[..., 0].permute(2, 0, 1).reshape(len(points), -1)
        xyz = x[None, :, None, None, :]  # grid_sample 3D: last dim is (x→W, y→H, z→D)
        grid = F.grid_sample(self.grid, xyz, align_corners=True)[0, :, :, 0, 0].t()
        return torch.cat([planes, grid], dim=-1)


class _CompiledEncoding(torch.autograd.Function):
    """Encoding.forward on the compiled kernels, which read the parameters channels-last;
    differentiable in the planes and the volume."""

    @staticmethod
    def forward(ctx, ops, points, box, planes, grid, channels_last):
        points = points.contiguous()
        planes_cl, grid_cl = channels_last  # [3, R, R, C], [G, G, G, C3]
        ctx.ops, ctx.points, ctx.box, ctx.channels_last = ops, points, box, channels_last
        return ops.encode_forward(points, planes_cl, grid_cl, box)

    @staticmethod
    def backward(ctx, grad):
        planes_cl, grid_cl = ctx.channels_last
        d_planes, d_grid = ctx.ops.encode_backward(ctx.points, grad, planes_cl, grid_cl, ctx.box)
        return None, None, None, d_planes.permute(0, 3, 1, 2), d_grid.permute(3, 0, 1, 2)[None], None


def _fusable(points: torch.Tensor, weights: MLPWeights) -> bool:
    """The fused CPU kernels (ext/raymarch/field_cpu.cpp) take float32 points on the CPU and 2-D
    weights; they give no gradient in the points."""
    return (
        points.device.type == "cpu"
        and points.dtype == torch.float32
        and not points.requires_grad
        and all(
            w.dim() == 2 and w.dtype == b.dtype == torch.float32 and w.device.type == b.device.type == "cpu"
            for w, b in weights
        )
    )


def _fused_raw(ops, encoding: Encoding, points: torch.Tensor, weights: MLPWeights) -> torch.Tensor:
    """mlp(encoding(points), weights) in one pass over tiles of points (raw outputs [N, 4])."""
    points = points.contiguous()
    ws, bs = [w for w, _ in weights], [b for _, b in weights]
    params = [encoding.planes, encoding.grid, *ws, *bs]
    if torch.is_grad_enabled() and any(t.requires_grad for t in params):
        return _FusedField.apply(ops, encoding, points, *params)
    planes_cl, grid_cl = encoding._channels_last()
    ws, bs = [w.detach() for w in ws], [b.detach() for b in bs]
    return ops.field_forward(points, planes_cl, grid_cl, encoding.box, ws, bs, False, "")[0]


class _FusedField(torch.autograd.Function):
    """The encoding and the MLP fused on the CPU, differentiable in the planes, the volume and
    every weight; the forward keeps each layer's input for the backward."""

    @staticmethod
    def forward(ctx, ops, encoding, points, planes, grid, *weights_and_biases):
        n = len(weights_and_biases) // 2
        ws = [w.detach() for w in weights_and_biases[:n]]
        bs = [b.detach() for b in weights_and_biases[n:]]
        planes_cl, grid_cl = encoding._channels_last()
        raw, *saved = ops.field_forward(points, planes_cl, grid_cl, encoding.box, ws, bs, True, "")
        ctx.ops, ctx.box, ctx.channels_last, ctx.n_layers = ops, encoding.box, (planes_cl, grid_cl), n
        ctx.save_for_backward(points, *ws, *saved)
        return raw

    @staticmethod
    @once_differentiable
    def backward(ctx, d_raw):
        points, *rest = ctx.saved_tensors
        n = ctx.n_layers
        ws, saved = rest[:n], rest[n:]
        planes_cl, grid_cl = ctx.channels_last
        encoding_grad = ctx.needs_input_grad[3] or ctx.needs_input_grad[4]
        out = ctx.ops.field_backward(
            points, planes_cl, grid_cl, ctx.box, list(ws), list(saved), d_raw, encoding_grad, ""
        )
        d_planes = out[0].permute(0, 3, 1, 2) if encoding_grad else None
        d_grid = out[1].permute(3, 0, 1, 2)[None] if encoding_grad else None
        return (None, None, None, d_planes, d_grid, *out[2 : 2 + n], *out[2 + n :])


def mlp(features: torch.Tensor, weights: MLPWeights) -> torch.Tensor:
    """features: [N, in] → raw outputs [N, 4] through ReLU hidden layers."""
    h = features
    for i, (w, b) in enumerate(weights):
        h = torch.addmm(b, h, w.t())
        if i < len(weights) - 1:
            h = torch.relu(h)
    return h


def activate(raw: torch.Tensor, cfg: FieldConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """raw [N, 4] of a density field → sigma [N] (bounded), albedo [N, 3] in (0, 1)."""
    sigma = cfg.sigma_max * torch.sigmoid(raw[:, 0] + cfg.sigma_shift)
    return sigma, torch.sigmoid(raw[:, 1:])


class Field(torch.nn.Module):
    """The NeRF of one or more scenes: the shared encoding, queried with per-scene weights.

    Of kind `density` the MLP's first output is the density's logit; of kind `sdf` it is a
    signed distance (plus a ball's, so a fresh field is a solid ball), and the density is
    sigma_max * sigmoid(-sdf / beta) with a learned beta, as in VolSDF and NeuS: the surface is
    the zero level of a field trained to be a distance (the eikonal term, hfcli/train)."""

    def __init__(self, cfg: FieldConfig, box: tuple[float, ...] = scene.BOX):
        super().__init__()
        self.cfg = cfg
        self.encoding = Encoding(cfg, box)
        if cfg.kind == "sdf":
            self.log_beta = torch.nn.Parameter(torch.tensor(math.log(cfg.sdf_beta)))

    def raw(self, points: torch.Tensor, weights: MLPWeights) -> torch.Tensor:
        """points [N, 3], weights of one scene → the MLP's outputs [N, 4]."""
        ops = backend.ops_for(points.device)
        if ops is not None and _fusable(points, weights):
            return _fused_raw(ops, self.encoding, points, weights)
        if torch.is_grad_enabled() or len(points) <= INFERENCE_CHUNK:
            return mlp(self.encoding(points), weights)
        return torch.cat(
            [self.raw(points[i : i + INFERENCE_CHUNK], weights) for i in range(0, len(points), INFERENCE_CHUNK)]
        )

    def _sdf(self, points: torch.Tensor, raw: torch.Tensor) -> torch.Tensor:
        return raw[:, 0] + points.norm(dim=-1) - self.cfg.sdf_init_radius

    def query(self, points: torch.Tensor, weights: MLPWeights) -> tuple[torch.Tensor, torch.Tensor]:
        """points [N, 3], weights of one scene → sigma [N], albedo [N, 3]."""
        raw = self.raw(points, weights)
        if self.cfg.kind != "sdf":
            return activate(raw, self.cfg)
        # Density (1 / beta) sigmoid(-sdf / beta): a ray's opacity reaches one half where sdf = 0
        # whatever beta, so the zero level is where the renders put the surface (VolSDF's
        # alpha = 1 / beta; the studio's truth, 100 * sigmoid(-sdf / 0.01), is the same form).
        beta = self.log_beta.exp()
        return torch.sigmoid(-self._sdf(points, raw) / beta) / beta, torch.sigmoid(raw[:, 1:])

    def signed_distance(self, points: torch.Tensor, weights: MLPWeights) -> torch.Tensor:
        """points [N, 3] → the signed distance [N] of an sdf field (negative inside)."""
        return self._sdf(points, self.raw(points, weights))

    def density(self, points: torch.Tensor, weights: MLPWeights) -> torch.Tensor:
        return self.query(points, weights)[0]
