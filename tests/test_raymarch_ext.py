"""ext/raymarch against the PyTorch reference: the same samples, images and gradients.

The C++ backend is built on first use (about half a minute without a compiler cache). Every
parity test runs on the CPU; the CUDA ones run where a GPU is, and the nvcc one where nvcc is.
"""

from __future__ import annotations

import shutil
import subprocess
import warnings
from pathlib import Path

import pytest
import torch

from hfcli.field import Field, FieldConfig
from hfcli.render import backend
from hfcli.render import raymarch_ext as rx
from hfcli.render import raymarch_torch as rm
from hfcli.render.renderer import render_image_batches, render_rays
from hfcli.scene import BOX, RENDER_STEP, box_tensor, new_grid

TINY = FieldConfig(plane_res=8, plane_features=2, grid_res=4, grid_features=2, hidden=8, n_hidden=1, sigma_shift=0.0)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(scope="module")
def cuda_ops():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    module = backend._load("cuda")
    assert module is not None, "the CUDA raymarcher failed to build"
    return module


def _ops_for(device, ops, request):
    return ops if device == "cpu" else request.getfixturevalue("cuda_ops")


def random_rays(n: int, seed: int = 0):
    """Rays from outside and inside the box, many missing it, some axis-parallel (zero components)."""
    gen = torch.Generator().manual_seed(seed)
    o = torch.randn(n, 3, generator=gen) * 1.5
    d = -o + torch.randn(n, 3, generator=gen) * 0.8
    d[: n // 8, 1:] = 0.0  # parallel to x
    d[n // 8 : n // 4, 0] = 0.0  # no x component
    d = d / d.norm(dim=1, keepdim=True)
    return o.contiguous(), d.contiguous()


def grid_of(kind: str, scenes: int = 3, res: int = 16, seed: int = 0):
    grid = new_grid(scenes, res)
    gen = torch.Generator().manual_seed(seed)
    if kind in ("random", "sparse"):
        grid.occupied = torch.rand(scenes, res, res, res, generator=gen) < (0.3 if kind == "random" else 0.004)
    elif kind == "empty":
        grid.occupied = torch.zeros(scenes, res, res, res, dtype=torch.bool)
    elif kind == "ball":
        c = (torch.arange(res) + 0.5) / res * 2 - 1
        x, y, z = torch.meshgrid(c, c, c, indexing="ij")
        grid.occupied = ((x**2 + y**2 + z**2) < 0.5).expand(scenes, -1, -1, -1).clone()
    return grid  # "full": as constructed, every cell occupied


def march_both(ops, o, d, scenes, grid, step=RENDER_STEP, jitter=None, device="cpu"):
    o, d, scenes = o.to(device), d.to(device), scenes.to(device)
    jitter = None if jitter is None else jitter.to(device)
    occupied = None if grid is None else grid.occupied.to(device)
    ref = rm.march(o, d, scenes, occupied, box_tensor().to(device), step, jitter)
    bits = rx.bitfields(occupied) if grid is not None else rx.no_grid(device)
    res = grid.resolution if grid is not None else 1
    got = rx.Marcher(ops, o, d, scenes, bits, res, box_tensor(), step, jitter).march_all()
    return ref, got


# ───────────────────────────── marching ─────────────────────────────


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["random", "sparse", "ball", "full", "empty", None])
@pytest.mark.parametrize("jittered", [False, True])
def test_march_picks_the_reference_samples(ops, request, device, kind, jittered):
    o, d = random_rays(1500, seed=1)
    scenes = torch.sort(torch.randint(0, 3, (len(o),), generator=torch.Generator().manual_seed(2))).values
    jitter = torch.rand(len(o), generator=torch.Generator().manual_seed(3)) if jittered else None
    grid = None if kind is None else grid_of(kind)
    ref, got = march_both(_ops_for(device, ops, request), o, d, scenes, grid, jitter=jitter, device=device)
    for a, b in zip(ref, got):
        assert torch.equal(a, b)
    if kind == "empty":
        assert got[0].numel() == 0


def test_march_edge_cases(ops):
    # No rays; rays that all miss; one very long ray of tiny steps.
    none = torch.zeros(0, 3)
    ref, got = march_both(ops, none, none, torch.zeros(0, dtype=torch.long), grid_of("random"))
    assert all(t.numel() == 0 for t in got)
    o = torch.tensor([[3.0, 3.0, 3.0], [0.0, 5.0, 0.0]])
    d = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # pointing away from the box
    ref, got = march_both(ops, o, d, torch.zeros(2, dtype=torch.long), grid_of("full"))
    assert all(t.numel() == 0 for t in got) and all(t.numel() == 0 for t in ref)
    o, d = torch.tensor([[-2.0, 0.01, 0.02]]), torch.tensor([[1.0, 0.0, 0.0]])
    ref, got = march_both(ops, o, d, torch.zeros(1, dtype=torch.long), grid_of("ball"), step=1e-4)
    assert got[0].numel() > 5000
    for a, b in zip(ref, got):
        assert torch.equal(a, b)


# ───────────────────────────── compositing ─────────────────────────────


def packed_samples(n_rays: int, seed: int, dtype=torch.float64, long_ray: int = 0):
    """Random packs: empty rays, single-sample rays, opaque rays that terminate early, and
    (long_ray > 0) one ray of that many faint samples."""
    gen = torch.Generator().manual_seed(seed)
    counts = torch.randint(0, 12, (n_rays,), generator=gen)
    counts[0], counts[1] = 0, 1
    if long_ray:
        counts[2] = long_ray
    ray_indices = torch.repeat_interleave(torch.arange(n_rays), counts)
    n = len(ray_indices)
    t0 = torch.rand(n, generator=gen, dtype=dtype) * 2
    t1 = t0 + torch.rand(n, generator=gen, dtype=dtype) * 0.1 + 1e-3
    sigmas = torch.rand(n, generator=gen, dtype=dtype) * 200 * (torch.rand(n, generator=gen, dtype=dtype) < 0.5)
    if long_ray:
        sigmas[ray_indices == 2] = 1e-3
    rgbs = torch.rand(n, 3, generator=gen, dtype=dtype)
    return sigmas, rgbs, ray_indices, t0, t1


@pytest.mark.parametrize("device", DEVICES)
def test_composite_matches_the_reference(ops, request, device):
    sigmas, rgbs, idx, t0, t1 = (t.to(device) for t in packed_samples(300, seed=5, dtype=torch.float32, long_ray=20000))
    ref = rm.composite(sigmas, rgbs, idx, t0, t1, 300)
    got = rx.composite(_ops_for(device, ops, request), sigmas, rgbs, idx, t0, t1, 300)
    for a, b in zip(ref, got):
        assert (a - b).abs().max() <= 1e-5
    assert got[1][0] == 0  # the empty ray
    assert (got[1] > 1 - 1e-4).any()  # some rays terminate


def test_composite_gradients_match_autograd_and_finite_differences(ops):
    sigmas, rgbs, idx, t0, t1 = packed_samples(40, seed=6)
    sigmas.requires_grad_(), rgbs.requires_grad_()
    weights = [
        torch.randn(40, 3, dtype=torch.float64),
        torch.randn(40, dtype=torch.float64),
        torch.randn(40, dtype=torch.float64),
    ]

    def loss(fn, s, c):
        rgb, opacity, depth = fn(s, c)
        return (rgb * weights[0]).sum() + (opacity * weights[1]).sum() + (depth * weights[2]).sum()

    ref = torch.autograd.grad(loss(lambda s, c: rm.composite(s, c, idx, t0, t1, 40), sigmas, rgbs), (sigmas, rgbs))
    got = torch.autograd.grad(loss(lambda s, c: rx.composite(ops, s, c, idx, t0, t1, 40), sigmas, rgbs), (sigmas, rgbs))
    for a, b in zip(ref, got):
        torch.testing.assert_close(b, a, rtol=1e-9, atol=1e-12)
    # Finite differences on rays that stay clear of the termination threshold.
    clear = torch.ones(40, dtype=torch.bool)
    with torch.no_grad():
        trans, _ = rm.transmittance(sigmas, idx, t0, t1, 40)
        near = (trans - rm.TRANSMITTANCE_EPS).abs() < 1e-3
        clear[idx[near]] = False
    keep = clear[idx]
    s, c, i, a, b = sigmas.detach()[keep], rgbs.detach()[keep], idx[keep], t0[keep], t1[keep]
    assert torch.autograd.gradcheck(
        lambda s_, c_: rx.composite(ops, s_, c_, i, a, b, 40),
        (s.requires_grad_(), c.requires_grad_()),
        eps=1e-6,
        atol=1e-6,
    )


def test_terminated_samples_get_no_gradient(ops):
    sigmas = torch.tensor([1e4, 5.0, 5.0], dtype=torch.float64, requires_grad=True)
    rgbs = torch.rand(3, 3, dtype=torch.float64, requires_grad=True)
    idx = torch.zeros(3, dtype=torch.long)
    t0 = torch.tensor([0.0, 0.1, 0.2], dtype=torch.float64)
    rgb, opacity, _ = rx.composite(ops, sigmas, rgbs, idx, t0, t0 + 0.1, 1)
    (rgb.sum() + opacity.sum()).backward()
    assert sigmas.grad[1:].abs().max() == 0 and rgbs.grad[1:].abs().max() == 0
    assert rgbs.grad[0].abs().min() > 0


# ───────────────────────────── the renderer ─────────────────────────────


def tiny_scene(seed: int = 0):
    torch.manual_seed(seed)
    field = Field(TINY)
    gen = torch.Generator().manual_seed(seed)
    weights = [
        (torch.randn(o, i, generator=gen) * 0.8, torch.randn(o, generator=gen) * 0.3) for o, i in TINY.layer_shapes()
    ]
    return field, weights


def render_with(name: str, fn):
    backend.use(name)
    try:
        return fn()
    finally:
        backend.use(None)


def test_render_images_match_the_reference(ops):
    field, weights = tiny_scene()
    grid = grid_of("ball", scenes=1, res=32)
    o, d = random_rays(3000, seed=7)
    ids = torch.zeros(len(o), dtype=torch.long)

    def image():
        return render_image_batches(lambda p, s: field.query(p, weights), o, d, ids, grid, torch.ones(3), chunk=1024)

    ref, got = render_with("torch", image), render_with("cpp", image)
    for a, b in ((ref.rgb, got.rgb), (ref.opacity, got.opacity), (ref.depth, got.depth)):
        assert (a - b).abs().max() <= 1e-4
    assert ref.opacity.max() > 0.5 and got.n_samples <= ref.n_samples


def test_render_gradients_match_the_reference(ops):
    field, weights = tiny_scene(seed=1)
    grid = grid_of("ball", scenes=2, res=32)
    o, d = random_rays(1024, seed=8)
    ids = torch.sort(torch.randint(0, 2, (len(o),), generator=torch.Generator().manual_seed(9))).values
    params = [t.clone().requires_grad_() for pair in weights for t in pair]

    def grads():
        ws = [(params[2 * i], params[2 * i + 1]) for i in range(len(weights))]
        gen = torch.Generator().manual_seed(10)
        out = render_rays(lambda p, s: field.query(p, ws), o, d, ids, grid, torch.ones(3), generator=gen)
        loss = (out.rgb - 0.3).square().mean() + out.depth.mean()
        return torch.autograd.grad(loss, params + [field.encoding.planes])

    for a, b in zip(render_with("torch", grads), render_with("cpp", grads)):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)


def test_grid_update_matches_the_reference(ops):
    def density(pts, _s):
        return 50 * torch.exp(-8 * pts.square().sum(-1))

    grids = {}
    for name in ("torch", "cpp"):
        grid = new_grid(2, 16)
        render_with(name, lambda grid=grid: [grid.update(density, torch.Generator().manual_seed(11)) for _ in range(3)])
        grids[name] = grid
    assert torch.equal(grids["torch"].ema, grids["cpp"].ema)
    assert torch.equal(grids["torch"].occupied, grids["cpp"].occupied)


def test_bitfield_packs_cells_in_c_order():
    occupied = torch.zeros(2, 4, 4, 4, dtype=torch.bool)
    occupied[1, 2, 3, 1] = True  # cell ((1·4 + 2)·4 + 3)·4 + 1 = 109 = byte 13, bit 5
    bits = rx.bitfield(occupied)
    assert bits.dtype == torch.uint8 and bits.numel() == 16
    assert bits[13] == 1 << 5 and int(bits.sum()) == 32


# ───────────────────────────── choosing and building ─────────────────────────────


def test_backend_choice_and_environment(monkeypatch, ops):
    monkeypatch.setenv(backend.ENV_VAR, "torch")
    assert backend.ops_for(torch.device("cpu")) is None
    monkeypatch.setenv(backend.ENV_VAR, "cpp")
    assert backend.ops_for(torch.device("cpu")) is ops
    backend.use("torch")  # the command-line flag wins over the variable
    assert backend.ops_for(torch.device("cpu")) is None
    backend.use(None)
    monkeypatch.setenv(backend.ENV_VAR, "fast")
    with pytest.raises(backend.BackendError, match="HFCLI_BACKEND"):
        backend.ops_for(torch.device("cpu"))
    with pytest.raises(backend.BackendError):
        backend.use("gpu")


def test_a_failed_build_falls_back_with_one_warning(monkeypatch, ops):
    monkeypatch.setattr(backend, "_import_built", lambda kind: None)
    monkeypatch.setattr(backend, "_build", lambda kind: (_ for _ in ()).throw(RuntimeError("no compiler found")))
    backend.reset()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert backend.ops_for(torch.device("cpu")) is None
            assert backend.ops_for(torch.device("cpu")) is None
            field, weights = tiny_scene()
            o, d = random_rays(64)
            out = render_rays(
                lambda p, s: field.query(p, weights), o, d, torch.zeros(64, dtype=torch.long), None, torch.ones(3)
            )
        assert len(caught) == 1 and "no compiler found" in str(caught[0].message)
        assert torch.isfinite(out.rgb).all()
    finally:
        backend.reset()


def test_cli_flag_and_usage_errors(ops):
    from hfcli.cli import EXIT_USAGE, run

    assert run(["generate", "a pink chair", "--out", "x.glb", "--backend", "quantum"]) == EXIT_USAGE
    backend.use(None)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed on this machine")
def test_cuda_sources_compile_with_nvcc(tmp_path):
    src = backend.source_dir() / "raymarch_cuda.cu"
    cmd = ["nvcc", "-std=c++17", *backend.CUDA_FLAGS, "-c", str(src), "-o", str(tmp_path / "raymarch_cuda.o")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "raymarch_cuda.o").stat().st_size > 0


# ───────────────────────────── the field's encoding ─────────────────────────────


def encoding_points(n: int, seed: int, dtype) -> torch.Tensor:
    """Inside the box, on its faces and corners, and outside it (clamped to the faces)."""
    gen = torch.Generator().manual_seed(seed)
    pts = torch.rand(n, 3, generator=gen, dtype=dtype) * 2 - 1
    pts[:8] = torch.tensor([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=dtype)
    pts[8:16] *= 1.7
    return pts


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("box", [BOX, (-0.7, -1.2, -0.5, 0.9, 0.8, 1.3)])
def test_encoding_matches_the_reference(ops, dtype, box):
    """Over the scene box and over one of another size on every axis, off the origin."""
    from hfcli.field import Field

    enc = Field(FieldConfig(plane_res=16, plane_features=4, grid_res=8, grid_features=3), box).encoding.to(dtype)
    pts = encoding_points(3000, seed=12, dtype=dtype)
    weight = torch.randn(3000, enc.cfg.in_features, dtype=dtype)
    ref = enc.reference(pts)
    ref_grads = torch.autograd.grad((ref * weight).sum(), (enc.planes, enc.grid))
    got = render_with("cpp", lambda: enc(pts))
    got_grads = torch.autograd.grad((got * weight).sum(), (enc.planes, enc.grid))
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    torch.testing.assert_close(got, ref, rtol=tol, atol=tol)
    for a, b in zip(ref_grads, got_grads):
        torch.testing.assert_close(b, a, rtol=tol * 10, atol=tol * 10)


def test_encoding_gradients_match_finite_differences(ops):
    from hfcli.field import Field

    enc = Field(FieldConfig(plane_res=4, plane_features=2, grid_res=3, grid_features=2)).encoding.double()
    pts = encoding_points(40, seed=13, dtype=torch.float64)
    planes, grid = enc.planes.detach().clone(), enc.grid.detach().clone()

    def features(p, g):
        del enc.planes, enc.grid
        # Plain tensors: differentiable inputs. Clones, because gradcheck perturbs its inputs
        # through .data, which the kernels' channels-last cache (keyed on versions) cannot see.
        enc.planes, enc.grid = p.clone(), g.clone()
        return render_with("cpp", lambda: enc(pts))

    assert torch.autograd.gradcheck(features, (planes.requires_grad_(), grid.requires_grad_()), eps=1e-6, atol=1e-7)


def test_encoding_follows_parameter_updates(ops):
    from hfcli.field import Field

    enc = Field(FieldConfig(plane_res=8, plane_features=2, grid_res=4, grid_features=2)).encoding
    pts = encoding_points(100, seed=14, dtype=torch.float32)
    before = render_with("cpp", lambda: enc(pts))
    with torch.no_grad():
        enc.planes.mul_(2.0)  # as an optimizer step does: in place
        enc.grid.add_(1.0)
    after = render_with("cpp", lambda: enc(pts))
    torch.testing.assert_close(after, enc.reference(pts).detach(), rtol=1e-5, atol=1e-5)
    assert not torch.allclose(before, after)


@pytest.mark.parametrize("grad", [False, True])
def test_render_of_no_rays(ops, grad):
    field, weights = tiny_scene()
    none = torch.zeros(0, 3)
    with torch.set_grad_enabled(grad):
        out = render_with(
            "cpp",
            lambda: render_rays(
                lambda p, s: field.query(p, weights),
                none,
                none,
                torch.zeros(0, dtype=torch.long),
                grid_of("ball", 1),
                torch.ones(3),
            ),
        )
    assert out.rgb.shape == (0, 3) and out.n_samples == 0


def test_sample_points_are_the_renderers_expression_exactly(ops):
    o, d = random_rays(300, seed=15)
    m = rx.Marcher(ops, o, d, torch.zeros(300, dtype=torch.long), rx.no_grid(), 1, box_tensor(), RENDER_STEP, None)
    idx, t0, t1 = m.march_all()
    assert idx.numel() > 1000
    assert torch.equal(m.points(idx, t0, t1), o[idx] + d[idx] * (0.5 * (t0 + t1))[:, None])
    with pytest.raises(RuntimeError, match="out of range"):
        ops.sample_points(m.o, m.d, idx + 300, t0, t1)


def test_a_compiler_without_openmp_gets_a_serial_build(monkeypatch, tmp_path):
    """The OpenMP build fails: the same sources are built once more without it, under a name of
    their own (so neither build is ever mistaken for the other)."""
    calls = []

    def fake_load(name, extra_cflags, extra_ldflags, build_directory, **kwargs):
        calls.append(name)
        if "-fopenmp" in extra_cflags:
            raise RuntimeError("unsupported option '-fopenmp'")
        (Path(build_directory) / backend._so_path(name).name).write_bytes(b"built")  # what a build leaves
        return f"module {name}"

    monkeypatch.setattr(backend, "OPENMP", ["-fopenmp"])
    monkeypatch.setattr(backend, "build_dir", lambda: tmp_path)
    monkeypatch.setattr(backend, "_compile", fake_load)
    monkeypatch.setattr(backend, "_warned", set())
    with pytest.warns(RuntimeWarning, match="without"):
        assert backend._build("cpp") == f"module {backend.module_name('cpp', [])}"
    assert calls == [backend.module_name("cpp", ["-fopenmp"]), backend.module_name("cpp", [])]
    assert calls[0] != calls[1]
