"""Mesh extraction, vertex-coloured glTF writing (read back by trimesh and the Khronos validator),
images. Textured meshes, OBJ and PLY: tests/test_texture.py."""

from __future__ import annotations

import json

import numpy as np
import pygltflib
import pytest
import torch
import trimesh

from hfcli.errors import EmptyMeshError, HfcliError
from hfcli.export import Mesh, extract_mesh
from hfcli.gltf import glb_bytes, write_glb
from hfcli.imageio import load_png, save_image, save_png
from tests.gltf_check import validate_glb

CENTRE = torch.tensor([0.3, -0.2, 0.1])  # distinct per axis, so an axis swap moves the mesh
RADIUS = 0.5
RES = 48
VOXEL = 2.0 / (RES - 1)
RED, BLUE = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 0.0, 1.0])


def sphere_density(p: torch.Tensor, centre=CENTRE, radius=RADIUS) -> torch.Tensor:
    """[N, 3] → [N]: ≈100 inside, ≈0 outside, 50 on the sphere."""
    return 100 * torch.sigmoid(-((p - centre).norm(dim=-1) - radius) / 0.01)


def split_colour(p: torch.Tensor) -> torch.Tensor:
    """[N, 3] → [N, 3]: red where x < centre.x, blue elsewhere."""
    return torch.where((p[:, 0] < CENTRE[0])[:, None], RED, BLUE)


@pytest.fixture(scope="module")
def sphere() -> Mesh:
    return extract_mesh(sphere_density, split_colour, threshold=50, resolution=RES)


# ───────────────────────────── extraction ─────────────────────────────


def test_sphere_geometry(sphere: Mesh):
    v, f = sphere.vertices.astype(np.float64), sphere.faces
    assert sphere.vertices.dtype == np.float32 and f.dtype == np.uint32
    dist = np.linalg.norm(v - CENTRE.numpy(), axis=1)
    assert np.abs(dist - RADIUS).max() < VOXEL
    # Each axis separately: the bounding box sits around the off-centre centre.
    np.testing.assert_allclose((v.min(0) + v.max(0)) / 2, CENTRE.numpy(), atol=VOXEL / 2)
    np.testing.assert_allclose(v.max(0) - v.min(0), 2 * RADIUS, atol=VOXEL)
    tm = trimesh.Trimesh(v, f.astype(np.int64), process=False)
    assert tm.is_watertight and tm.is_winding_consistent
    assert tm.volume == pytest.approx(4 / 3 * np.pi * RADIUS**3, rel=0.03)  # > 0: CCW outside
    assert len(np.unique(f)) == len(v)  # no unreferenced vertices


def test_sphere_normals_and_winding(sphere: Mesh):
    v, n = sphere.vertices, sphere.normals
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-5)
    radial = (v - CENTRE.numpy()) / np.linalg.norm(v - CENTRE.numpy(), axis=1, keepdims=True)
    cos = (n * radial).sum(1)
    assert (cos > 0).mean() > 0.999 and np.median(cos) > 0.99
    t = v[sphere.faces.astype(np.int64)]
    face_n = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    assert ((face_n * (t.mean(1) - CENTRE.numpy())).sum(1) > 0).all()


def test_sphere_colours(sphere: Mesh):
    x, c = sphere.vertices[:, 0], sphere.colors
    assert c.dtype == np.float32 and c.min() >= 0 and c.max() <= 1
    left, right = x < CENTRE[0].item() - VOXEL, x > CENTRE[0].item() + VOXEL
    assert left.sum() > 100 and right.sum() > 100
    np.testing.assert_allclose(c[left], np.broadcast_to(RED.numpy(), c[left].shape))
    np.testing.assert_allclose(c[right], np.broadcast_to(BLUE.numpy(), c[right].shape))


def test_colours_sampled_inside_the_surface():
    def albedo(p):  # red on the object, white outside: a boundary sample would be ambiguous
        inside = (p - CENTRE).norm(dim=-1) < RADIUS
        return torch.where(inside[:, None], RED, torch.ones(3))

    m = extract_mesh(sphere_density, albedo, threshold=50, resolution=RES)
    np.testing.assert_array_equal(m.colors, np.broadcast_to(RED.numpy(), m.colors.shape))


def test_anisotropic_aabb_keeps_axes():
    aabb = ((-0.4, -0.9, -0.5), (1.0, 0.5, 0.8))
    m = extract_mesh(sphere_density, split_colour, threshold=50, resolution=40, aabb=aabb)
    step = (np.array(aabb[1]) - np.array(aabb[0])) / 39
    dist = np.linalg.norm(m.vertices - CENTRE.numpy(), axis=1)
    assert np.abs(dist - RADIUS).max() < step.max()
    np.testing.assert_allclose((m.vertices.min(0) + m.vertices.max(0)) / 2, CENTRE.numpy(), atol=step.max() / 2)


def test_floaters_removed():
    blob_c = torch.tensor([-0.8, 0.8, -0.8])

    def density(p):
        return torch.maximum(sphere_density(p), sphere_density(p, blob_c, 0.08))

    kept = extract_mesh(density, split_colour, threshold=50, resolution=RES, min_component_fraction=0.0)
    assert (np.linalg.norm(kept.vertices - blob_c.numpy(), axis=1) < 0.2).any()  # the blob is meshed
    m = extract_mesh(density, split_colour, threshold=50, resolution=RES)
    assert np.abs(np.linalg.norm(m.vertices - CENTRE.numpy(), axis=1) - RADIUS).max() < VOXEL
    assert len(m.faces) > 0.95 * len(kept.faces)
    assert trimesh.Trimesh(m.vertices, m.faces.astype(np.int64), process=False).is_watertight


def test_surface_touching_aabb_is_closed():
    def slab(p):  # dense for x < 0: the surface would be open where it meets the aabb
        return 100 * torch.sigmoid(-p[:, 0] / 0.01)

    m = extract_mesh(slab, split_colour, threshold=50, resolution=24)
    assert trimesh.Trimesh(m.vertices, m.faces.astype(np.int64), process=False).is_watertight
    assert m.vertices.min() >= -1 and m.vertices.max() <= 1


@pytest.mark.parametrize("value", [0.0, 100.0])
def test_no_surface_raises(value):
    def flat(p):
        return torch.full((len(p),), value)

    with pytest.raises(EmptyMeshError, match="no surface at density threshold 50"):
        extract_mesh(flat, split_colour, threshold=50, resolution=16)


# ───────────────────────────── glTF ─────────────────────────────


def test_glb_read_back_by_trimesh(sphere: Mesh, tmp_path):
    path = tmp_path / "sphere.glb"
    write_glb(sphere, path)
    # skip_materials: with a material trimesh files COLOR_0 under a texture visual's attributes
    # and drops it when flattening the scene; without, it reads them as plain vertex colours.
    tm = trimesh.load(path, force="mesh", process=False, skip_materials=True)
    assert len(tm.vertices) == len(sphere.vertices) and len(tm.faces) == len(sphere.faces)
    np.testing.assert_allclose(tm.vertices, sphere.vertices, atol=1e-6)
    np.testing.assert_array_equal(tm.faces, sphere.faces)
    rgb = np.asarray(tm.visual.vertex_colors)[:, :3].astype(np.float64)
    np.testing.assert_allclose(rgb, sphere.colors * 255, atol=1.0)
    scene = trimesh.load(path, process=False)  # with the material: the colours are still there
    (geometry,) = scene.geometry.values()
    assert geometry.visual.material is not None
    assert len(geometry.visual.vertex_attributes["color"]) == len(sphere.vertices)


def test_glb_structure(sphere: Mesh, tmp_path):
    path = tmp_path / "sphere.glb"
    write_glb(sphere, path)
    g = pygltflib.GLTF2().load(str(path))
    prim = g.meshes[0].primitives[0]
    assert g.asset.generator == "hfcli" and prim.mode == pygltflib.TRIANGLES
    pos = g.accessors[prim.attributes.POSITION]
    np.testing.assert_array_equal(pos.min, sphere.vertices.min(0))
    np.testing.assert_array_equal(pos.max, sphere.vertices.max(0))
    idx = g.accessors[prim.indices]
    # 16-bit indices while the vertices allow (< 65535: the largest value means restart).
    assert idx.componentType == pygltflib.UNSIGNED_SHORT and idx.count == sphere.faces.size
    assert g.bufferViews[idx.bufferView].target == pygltflib.ELEMENT_ARRAY_BUFFER
    start = g.bufferViews[idx.bufferView].byteOffset
    flat = np.frombuffer(g.binary_blob(), np.uint16, idx.count, start)
    np.testing.assert_array_equal(flat.reshape(-1, 3), sphere.faces)
    for name in ("POSITION", "NORMAL", "COLOR_0"):
        view = g.bufferViews[g.accessors[getattr(prim.attributes, name)].bufferView]
        assert view.target == pygltflib.ARRAY_BUFFER and view.byteOffset % 4 == 0
    normal = g.accessors[prim.attributes.NORMAL]
    view = g.bufferViews[normal.bufferView]
    start = view.byteOffset + (normal.byteOffset or 0)
    n = np.frombuffer(g.binary_blob(), np.float32, normal.count * 3, start).reshape(-1, 3)
    np.testing.assert_array_equal(n, sphere.normals)
    np.testing.assert_allclose(np.linalg.norm(n, axis=1), 1.0, atol=1e-6)
    mat = g.materials[prim.material].pbrMetallicRoughness
    assert mat.metallicFactor == 0 and mat.roughnessFactor == 1


def test_glb_with_more_vertices_than_16_bits_uses_32_bit_indices(tmp_path):
    n = 70_000  # a fan of thin triangles around the origin: more vertices than uint16 can index
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    v = np.column_stack([np.cos(angle), np.sin(angle), np.zeros(n)]).astype(np.float32)
    v[0] = 0.0
    f = np.column_stack([np.zeros(n - 2), np.arange(1, n - 1), np.arange(2, n)]).astype(np.uint32)
    normals = np.tile(np.float32([0, 0, 1]), (n, 1))
    write_glb(Mesh(v, f, np.full((n, 3), 0.5, np.float32), normals), tmp_path / "fan.glb")
    g = pygltflib.GLTF2().load(str(tmp_path / "fan.glb"))
    idx = g.accessors[g.meshes[0].primitives[0].indices]
    assert idx.componentType == pygltflib.UNSIGNED_INT and idx.max == [n - 1]
    tm = trimesh.load(tmp_path / "fan.glb", force="mesh", process=False)
    np.testing.assert_array_equal(tm.faces, f)


def test_failed_write_leaves_nothing(sphere: Mesh, tmp_path, monkeypatch):
    path = tmp_path / "out.glb"
    path.write_bytes(b"old")

    def broken(self):
        yield b"glTF"
        raise OSError("disk full")

    monkeypatch.setattr(pygltflib.GLTF2, "save_to_bytes", broken)
    with pytest.raises(OSError, match="disk full"):
        write_glb(sphere, path)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.glb"]


def test_khronos_validator(sphere: Mesh, tmp_path):
    path = tmp_path / "sphere.glb"
    write_glb(sphere, path)
    report = validate_glb(path)
    issues = report["issues"]
    summary = {k: issues[k] for k in ("numErrors", "numWarnings", "numInfos", "numHints")}
    print("gltf-validator:", summary)
    messages = json.dumps(issues["messages"], indent=1)
    assert issues["numErrors"] == 0, messages
    assert issues["numWarnings"] == 0, messages
    assert report["info"]["totalTriangleCount"] == len(sphere.faces)


# ───────────────────────────── images ─────────────────────────────


def test_png_round_trip_and_strip(tmp_path):
    img = torch.rand(5, 7, 3)
    save_png(img * 1.2 - 0.1, tmp_path / "a.png")  # out of range: clamped
    back = load_png(tmp_path / "a.png")
    assert back.shape == (5, 7, 3) and back.dtype == np.float32
    np.testing.assert_allclose(back, (img * 1.2 - 0.1).clamp(0, 1).numpy(), atol=0.5 / 255 + 1e-6)
    save_image([np.zeros((4, 3, 3)), np.ones((4, 3, 3))], tmp_path / "strip.png")
    strip = load_png(tmp_path / "strip.png")
    assert strip.shape == (4, 6, 3) and strip[:, :3].max() == 0 and strip[:, 3:].min() == 1
    with pytest.raises(HfcliError, match="use .png or .gif"):
        save_image(img, tmp_path / "a.jpg")


def test_gif_loops(tmp_path):
    from PIL import Image

    frames = [np.full((8, 8, 3), v, dtype=np.float32) for v in (0.0, 0.5, 1.0)]
    save_image(frames, tmp_path / "a.gif")
    with Image.open(tmp_path / "a.gif") as im:
        assert im.format == "GIF" and im.n_frames == 3 and im.info.get("loop") == 0
    assert [p.name for p in tmp_path.iterdir()] == ["a.gif"]


def test_glb_bytes_in_memory_are_the_file_write_glb_writes(sphere: Mesh, tmp_path):
    """hf serve answers with glb_bytes; it must be the same file the commands write."""
    path = tmp_path / "s.glb"
    write_glb(sphere, path)
    assert glb_bytes(sphere) == path.read_bytes()
