"""The sdf field: density from a signed distance, the eikonal term, meshing at the zero level,
checkpoints that say which field they hold."""

import json

import pytest
import torch

from hfcli import checkpoint as ck
from hfcli.cli import run
from hfcli.config import FieldConfig
from hfcli.field import Field
from hfcli.model import NerfScene, nerf_checkpoint, scene_from_nerf
from hfcli.outputs import scene_mesh
from hfcli.scene import new_grid
from hfcli.train.objectives import surface_terms

SMALL = dict(plane_res=32, plane_features=4, grid_res=8, grid_features=4, hidden=16)


def ball_scene(radius: float = 0.5) -> NerfScene:
    """An sdf field whose MLP outputs zero distance: the fresh field's ball, exactly |x| - r."""
    field = Field(FieldConfig(kind="sdf", sdf_init_radius=radius, **SMALL))
    weights = [(torch.zeros(o, i), torch.zeros(o)) for o, i in field.cfg.layer_shapes()]
    return NerfScene(field, weights, new_grid(), "a ball")


def test_density_is_the_sigmoid_of_the_signed_distance():
    scene = ball_scene()
    points = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.9, 0.0]])
    sdf = scene.signed_distance(points)
    torch.testing.assert_close(sdf, torch.tensor([-0.5, 0.0, 0.4]))
    beta = scene.field.log_beta.exp()
    torch.testing.assert_close(scene.density(points), torch.sigmoid(-sdf / beta) / beta)
    assert float(scene.density(points)[1].detach()) == pytest.approx(0.5 / float(beta.detach()))


def test_a_ray_is_half_opaque_where_it_crosses_the_zero_level():
    """Density sigmoid(-sdf / beta) / beta integrates to ln 2 from outside up to sdf = 0, so the
    surface the renders show is the zero level the mesh is cut at, whatever beta."""
    scene = ball_scene(0.5)
    for log_beta in (-4.0, -3.0):
        with torch.no_grad():
            scene.field.log_beta.fill_(log_beta)
        origin = torch.tensor([[-1.0, 0.0, 0.0]])
        # A ray along x that stops at the ball's surface (x = -0.5): its opacity there is 1/2.
        depth = 0.5
        steps = torch.linspace(0, depth, 20001)
        points = origin + steps[:, None] * torch.tensor([1.0, 0.0, 0.0])
        with torch.no_grad():
            sigma = scene.density(points)
        optical_depth = torch.trapezoid(sigma, steps)
        assert float(1 - torch.exp(-optical_depth)) == pytest.approx(0.5, abs=0.01)


def test_the_surface_terms_see_a_scaled_distance_and_a_bumpy_surface():
    gen = torch.Generator().manual_seed(0)
    scene = ball_scene()
    eik, smooth = (float(t.detach()) for t in surface_terms(scene.field, scene.weights, gen))
    assert eik < 1e-3  # |grad |x|| = 1
    assert smooth < 5e-3  # a ball's normals turn by step / radius between neighbours
    doubled = ball_scene()
    doubled.field._sdf = lambda points, raw: 2 * (points.norm(dim=-1) - 0.5)  # |grad| = 2
    assert float(surface_terms(doubled.field, doubled.weights, gen)[0].detach()) == pytest.approx(1.0, abs=0.05)
    bumpy = ball_scene()
    bumpy.field._sdf = lambda p, raw: p.norm(dim=-1) - 0.5 + 0.02 * torch.sin(40 * p).prod(dim=-1)
    assert float(surface_terms(bumpy.field, bumpy.weights, gen)[1].detach()) > 10 * smooth


@pytest.mark.parametrize(("recorded", "smooth", "voxels"), [(1.0, None, 1.0), (2.0, None, 2.0), (2.0, 0.0, 0.0)])
def test_an_sdf_mesh_lies_on_the_zero_level(recorded, smooth, voxels):
    scene = ball_scene(0.6)
    scene.field.cfg.mesh_smooth_voxels = recorded  # the field's own blur, unless `smooth` says otherwise
    mesh = scene_mesh(scene, resolution=48, smooth=smooth)
    radii = torch.as_tensor(mesh.vertices).norm(dim=-1)
    # Marching cubes on a distance is nearly exact; the Gaussian blur before it (sigma s) moves
    # a ball's zero level in by s^2 / r (E|x + n| = |x| + s^2 / |x| in 3-D): 0.003 at 48^3 for
    # one voxel, 0.012 for two.
    sigma = voxels * 2.0 / (48 - 1)
    assert float((radii - (0.6 - sigma**2 / 0.6)).abs().max()) < 1e-3
    normals = torch.as_tensor(mesh.normals)
    assert float((normals * torch.as_tensor(mesh.vertices) / radii[:, None]).sum(-1).min()) > 0.99  # outward


def test_a_baked_sdf_nerf_round_trips_with_its_softness(tmp_path):
    scene = ball_scene()
    with torch.no_grad():
        scene.field.log_beta.fill_(-3.0)
    ck.save(nerf_checkpoint(scene, "bundled:all-MiniLM-L6-v2"), tmp_path / "n.safetensors")
    back = scene_from_nerf(ck.load(tmp_path / "n.safetensors"))
    assert back.field.cfg.kind == "sdf" and float(back.field.log_beta.detach()) == -3.0
    points = torch.rand(100, 3) * 2 - 1
    torch.testing.assert_close(back.density(points), scene.density(points))


def test_a_field_kind_this_version_does_not_know_is_one_line(tmp_path, capsys):
    scene = ball_scene()
    path = tmp_path / "future.safetensors"
    checkpoint = nerf_checkpoint(scene, "bundled:all-MiniLM-L6-v2")
    checkpoint.config["field"]["kind"] = "gaussians"
    ck.save(checkpoint, path)
    header = ck.read_header(path)
    from safetensors.torch import load_file, save_file

    header["hfcli_version"] = "9.9.0"
    save_file(load_file(str(path)), str(path), metadata={"hfcli": json.dumps(header)})
    assert run(["export", str(path), "--out", str(tmp_path / "x.glb")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'gaussians'" in err and "9.9.0" in err, err
    assert not (tmp_path / "x.glb").exists()
