"""The fused field (ext/raymarch/field_cpu.cpp: encoding + MLP per tile of points) against the
PyTorch field: outputs, gradients in every parameter, for every instruction set the CPU runs."""

from __future__ import annotations

import copy

import pytest
import torch

from hfcli.field import Field, FieldConfig, mlp
from hfcli.render import backend
from hfcli.scene import BOX

# The shipped field's shape, and one whose widths fill no vector exactly (tails everywhere).
SHAPES = {
    "default": FieldConfig(),
    "ragged": FieldConfig(plane_res=9, plane_features=5, grid_res=5, grid_features=3, hidden=23, n_hidden=3),
    # 40 hidden units pad to 48: three vectors of 16 (the blocks' leftover case on AVX-512)
    "three_vectors": FieldConfig(plane_res=16, plane_features=16, grid_res=8, grid_features=8, hidden=40),
}
# A box of another size on every axis, off the origin: points(n) fall inside and outside it.
ODD_BOX = (-0.7, -1.2, -0.5, 0.9, 0.8, 1.3)


def scene(cfg: FieldConfig, seed: int = 0, box=BOX):
    torch.manual_seed(seed)
    field = Field(cfg, box)
    weights = [(torch.randn(o, i) / i**0.5, 0.3 * torch.randn(o)) for o, i in cfg.layer_shapes()]
    return field, weights


def points(n: int, seed: int = 1) -> torch.Tensor:
    """Inside the box, on its faces and outside it (clamped like grid_sample's border)."""
    gen = torch.Generator().manual_seed(seed)
    pts = torch.rand(n, 3, generator=gen) * 2.4 - 1.2
    pts[: n // 10] = pts[: n // 10].clamp(-1, 1).sign() * pts[: n // 10].abs().clamp_max(1.0)
    return pts


def channels_last(field: Field):
    return field.encoding._channels_last()


def fused(ops, field, weights, pts, isa, save=False):
    planes, grid = channels_last(field)
    ws, bs = [w for w, _ in weights], [b for _, b in weights]
    return ops.field_forward(pts, planes, grid, field.encoding.box, ws, bs, save, isa)


def isas(ops):
    """Every instruction set this CPU runs (the others cannot be tested here)."""
    found = ops.field_isas()
    assert found[-1] == "generic"
    return found


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("n", [1, 35, 1000])
def test_forward_matches_the_reference(ops, shape, n):
    field, weights = scene(SHAPES[shape])
    pts = points(n)
    ref = mlp(field.encoding.reference(pts), weights).detach()
    assert "generic" in isas(ops)
    for isa in isas(ops):
        raw = fused(ops, field, weights, pts, isa)[0]
        assert raw.shape == ref.shape
        torch.testing.assert_close(raw, ref, rtol=1e-5, atol=1e-5, msg=f"instruction set {isa}")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("encoding_grad", [True, False])
@pytest.mark.parametrize("dead_rows", [False, True])
def test_backward_matches_autograd_of_the_reference(ops, shape, encoding_grad, dead_rows):
    """dead_rows: many points get zero d(raw), as samples behind a ray's termination do; the
    kernels skip them and pack tiles from the others."""
    field, weights = scene(SHAPES[shape], seed=2)
    pts = points(777, seed=3)
    # The reference in float64: the fused float32 gradients are held to it.
    f64 = copy.deepcopy(field).double()
    w64 = [(w.double().requires_grad_(), b.double().requires_grad_()) for w, b in weights]
    raw = mlp(f64.encoding.reference(pts.double()), w64)
    d_raw = torch.randn(raw.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    if dead_rows:
        d_raw[::3] = 0.0
        d_raw[100:300] = 0.0
        d_raw[-50:] = 0.0
    ref = torch.autograd.grad(raw, [f64.encoding.planes, f64.encoding.grid] + [t for pair in w64 for t in pair], d_raw)
    n = len(weights)
    for isa in isas(ops):
        raw32, *saved = fused(ops, field, weights, pts, isa, save=True)
        planes, grid = channels_last(field)
        ws = [w for w, _ in weights]
        out = ops.field_backward(pts, planes, grid, BOX, ws, saved, d_raw.float(), encoding_grad, isa)
        got = [t for pair in zip(out[2 : 2 + n], out[2 + n :]) for t in pair]
        if encoding_grad:
            got = [out[0].permute(0, 3, 1, 2), out[1].permute(3, 0, 1, 2)[None]] + got
        else:
            assert out[0] is None and out[1] is None
        want = ref if encoding_grad else ref[2:]
        for g, r in zip(got, want):
            scale = r.abs().max().item()
            assert (g.double() - r).abs().max().item() <= 1e-5 * max(scale, 1.0), f"instruction set {isa}"


def test_a_box_of_its_own_matches_the_reference(ops):
    """The kernels map points by the encoding's box, as the reference does: forward, and the
    backward into the planes, the volume and the weights."""
    field, weights = scene(SHAPES["ragged"], seed=16, box=ODD_BOX)
    pts = points(500, seed=17)
    f64 = copy.deepcopy(field).double()
    w64 = [(w.double().requires_grad_(), b.double().requires_grad_()) for w, b in weights]
    ref_raw = mlp(f64.encoding.reference(pts.double()), w64)
    d_raw = torch.randn(ref_raw.shape, generator=torch.Generator().manual_seed(18), dtype=torch.float64)
    ref = torch.autograd.grad(
        ref_raw, [f64.encoding.planes, f64.encoding.grid] + [t for pair in w64 for t in pair], d_raw
    )
    n = len(weights)
    default_box = fused(ops, scene(SHAPES["ragged"], seed=16)[0], weights, pts, "")[0]
    assert (default_box.double() - ref_raw).abs().max() > 0.1  # the box matters to these points
    for isa in isas(ops):
        raw, *saved = fused(ops, field, weights, pts, isa, save=True)
        torch.testing.assert_close(raw.double(), ref_raw.detach(), rtol=1e-5, atol=1e-5, msg=f"instruction set {isa}")
        planes, grid = channels_last(field)
        ws = [w for w, _ in weights]
        out = ops.field_backward(pts, planes, grid, ODD_BOX, ws, saved, d_raw.float(), True, isa)
        got = [out[0].permute(0, 3, 1, 2), out[1].permute(3, 0, 1, 2)[None]]
        got += [t for pair in zip(out[2 : 2 + n], out[2 + n :]) for t in pair]
        for g, r in zip(got, ref):
            assert (g.double() - r).abs().max().item() <= 1e-5 * max(r.abs().max().item(), 1.0), (
                f"instruction set {isa}"
            )


def test_gradient_matches_finite_differences(ops):
    """The fused backward's directional derivative in the weights, against central differences
    of the field in float64 (the kernels are float32 only; their forward matches it above)."""
    field, weights = scene(FieldConfig(plane_res=6, plane_features=4, grid_res=4, grid_features=4, hidden=16), seed=5)
    pts = points(200, seed=6)
    d_raw = torch.randn(200, 4, generator=torch.Generator().manual_seed(7))
    direction = [(torch.randn_like(w), torch.randn_like(b)) for w, b in weights]
    features = field.encoding.reference(pts).detach().double()

    def loss(eps: float) -> float:
        moved = [
            (w.double() + eps * dw.double(), b.double() + eps * db.double())
            for (w, b), (dw, db) in zip(weights, direction)
        ]
        return float((mlp(features, moved) * d_raw.double()).sum())

    eps = 1e-6  # small enough that no pre-activation crosses a ReLU kink
    numeric = (loss(eps) - loss(-eps)) / (2 * eps)
    _, *saved = fused(ops, field, weights, pts, "", save=True)
    planes, grid = channels_last(field)
    out = ops.field_backward(pts, planes, grid, BOX, [w for w, _ in weights], saved, d_raw, False, "")
    n = len(weights)
    analytic = sum(
        float((dw * g).sum() + (db * gb).sum()) for (dw, db), g, gb in zip(direction, out[2 : 2 + n], out[2 + n :])
    )
    assert abs(numeric - analytic) <= 1e-4 * abs(analytic)


def test_no_points(ops):
    field, weights = scene(FieldConfig())
    raw, *saved = fused(ops, field, weights, torch.zeros(0, 3), "", save=True)
    assert raw.shape == (0, 4) and [s.shape[0] for s in saved] == [0, 0, 0]
    planes, grid = channels_last(field)
    ws = [w for w, _ in weights]
    out = ops.field_backward(torch.zeros(0, 3), planes, grid, BOX, ws, saved, torch.zeros(0, 4), True, "")
    assert all(float(t.abs().sum()) == 0 for t in out)


@pytest.mark.parametrize("box", [BOX, ODD_BOX])
def test_field_query_uses_it_with_the_same_values_and_gradients(ops, box):
    """Field.query on the cpp backend (fused, under autograd) against the torch backend."""
    field, weights = scene(FieldConfig(), seed=8, box=box)
    pts = points(3000, seed=9)

    def run():
        ws = [(w.clone().requires_grad_(), b.clone().requires_grad_()) for w, b in weights]
        sigma, rgb = field.query(pts, ws)
        loss = (sigma * 1e-3).sin().sum() + rgb.square().sum()
        params = [field.encoding.planes, field.encoding.grid] + [t for pair in ws for t in pair]
        return (sigma.detach(), rgb.detach(), *torch.autograd.grad(loss, params))

    backend.use("torch")
    try:
        ref = run()
        backend.use("cpp")
        got = run()
        with torch.no_grad():
            no_grad = field.query(pts, weights)
    finally:
        backend.use(None)
    for a, b in zip(ref, got):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(no_grad[0], ref[0], rtol=1e-4, atol=1e-4)


def test_bad_inputs_are_refused(ops):
    field, weights = scene(FieldConfig(hidden=16))
    pts = points(10)
    planes, grid = channels_last(field)
    ws, bs = [w for w, _ in weights], [b for _, b in weights]
    with pytest.raises(RuntimeError, match="input width"):
        ops.field_forward(pts, planes, grid, BOX, [ws[0], ws[0]], bs[:2], False, "")
    with pytest.raises(RuntimeError, match="not available"):
        ops.field_forward(pts, planes, grid, BOX, ws, bs, False, "no-such-isa")
    with pytest.raises(RuntimeError, match="points"):
        ops.field_forward(pts.double(), planes, grid, BOX, ws, bs, False, "")
    for box in (BOX[:5], (1.0, -1.0, -1.0, -1.0, 1.0, 1.0)):
        with pytest.raises(RuntimeError, match="aabb"):
            ops.field_forward(pts, planes, grid, box, ws, bs, False, "")


def test_two_threads_sum_their_gradients(ops):
    """The backward splits points between threads, each adding into its own buffers."""
    field, weights = scene(FieldConfig(hidden=32), seed=10)
    pts = points(20000, seed=11)
    d_raw = torch.randn(20000, 4, generator=torch.Generator().manual_seed(12))
    _, *saved = fused(ops, field, weights, pts, "", save=True)
    planes, grid = channels_last(field)
    before = torch.get_num_threads()
    try:
        results = []
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results.append(ops.field_backward(pts, planes, grid, BOX, [w for w, _ in weights], saved, d_raw, True, ""))
    finally:
        torch.set_num_threads(before)
    for one, two in zip(*results):
        # float32 sums of 20k terms in two orders; a buffer left out would be off by about half
        assert (two - one).abs().max() <= 1e-4 * one.abs().max()


def test_gradients_in_the_points_take_the_pytorch_path(ops):
    """The kernels give no gradient in the points: a query that needs one must not use them."""
    field, weights = scene(FieldConfig(hidden=16), seed=13)
    grads = {}
    for name in ("torch", "cpp"):
        pts = points(50, seed=14).requires_grad_()
        backend.use(name)
        try:
            sigma, rgb = field.query(pts, weights)
            (grads[name],) = torch.autograd.grad(sigma.sum() + rgb.sum(), pts)
        finally:
            backend.use(None)
    assert grads["torch"].abs().sum() > 0
    torch.testing.assert_close(grads["cpp"], grads["torch"])


def test_corners_outside_the_planes_receive_nothing(ops):
    """A corner past the edge has weight 0 and a stand-in offset 0: even a NaN gradient of the
    point must not reach texel 0, which it does not touch (the reference skips such corners)."""
    field, weights = scene(FieldConfig(hidden=16), seed=15)
    pts = torch.tensor([[1.0, 1.0, 1.0], [0.2, -0.3, 0.4]])
    _, *saved = fused(ops, field, weights, pts, "", save=True)
    planes, grid = channels_last(field)
    d_raw = torch.tensor([[float("nan")] * 4, [1.0, 0.0, 0.0, 0.0]])
    for isa in isas(ops):
        ws = [w for w, _ in weights]
        d_planes, d_grid = ops.field_backward(pts, planes, grid, BOX, ws, saved, d_raw, True, isa)[:2]
        assert torch.isfinite(d_planes[:, 0, 0]).all() and torch.isfinite(d_grid[0, 0, 0]).all(), isa
        assert torch.isnan(d_planes[:, -1, -1]).any()  # the point's own corners do get it
