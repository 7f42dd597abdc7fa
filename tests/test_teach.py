"""A short studio teach run: PSNR rises above a floor; --resume continues where it stopped."""

import math

import pytest
import torch

from hfcli import checkpoint as ck
from hfcli.config import FieldConfig, HyperConfig, LoopConfig, TeachConfig
from hfcli.train.teach import teach

PROMPTS = ["a red bowl", "a mint bowl"]


def small_config(steps: int, cls=TeachConfig, **settings) -> TeachConfig:
    """A fast teacher (or, with cls, distill) config; `settings` go to its fields."""
    return cls(
        loop=LoopConfig(steps=steps, save_every=10, grid_warmup=16),
        field=FieldConfig(plane_res=64, plane_features=8, grid_res=16, grid_features=4, hidden=32),
        hyper=HyperConfig(d_model=64, n_heads=2, head_hidden=64, n_probe=128),
        rays_per_step=1024,
        **{**({"pool_rays": 1 << 14, "guidance": "studio"} if cls is TeachConfig else {}), **settings},
    )


@pytest.fixture(scope="module")
def taught(tmp_path_factory):
    out = tmp_path_factory.mktemp("teach") / "bowl.safetensors"
    seen = []
    report = teach(PROMPTS, out, small_config(120), report=lambda t, d, n, f: seen.append((t, d, f)))
    return out, report, seen


def test_psnr_rises_above_floor(taught):
    out, report, seen = taught
    first = next(f["psnr"] for t, d, f in seen if t == "training")
    assert first < 15.0  # a fresh field is far from the target...
    assert report["psnr"] > 24.0, report  # ...and 120 small steps bring it well past this floor
    assert set(report["per_prompt"]) == set(PROMPTS)
    header = ck.read_header(out)
    assert header["kind"] == "teacher" and header["step"] == 120
    assert header["metrics"]["psnr"] == report["psnr"]


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path, monkeypatch):
    """Killed after its save at step 20 and resumed, a 30-step run ends where one that never
    stopped does: same weights, optimiser moments, grid and random stream, the same rates."""
    from hfcli.train import loop

    whole = tmp_path / "whole.safetensors"
    teach(PROMPTS[:1], whole, small_config(30))

    cut = tmp_path / "cut.safetensors"
    run = loop.Trainer.run

    def killed_after_step_20(self, on_progress=None, on_save=None, stop=None):
        def progress(step, total, figures):
            if step == 21:
                raise KeyboardInterrupt  # after the save at step 20 (save_every = 10)

        return run(self, progress, on_save, stop)

    monkeypatch.setattr(loop.Trainer, "run", killed_after_step_20)
    with pytest.raises(KeyboardInterrupt):
        teach(PROMPTS[:1], cut, small_config(30))
    monkeypatch.undo()
    assert ck.read_header(cut)["step"] == 20
    report = teach(PROMPTS[:1], cut, small_config(30), resume=True)
    assert report["steps"] == 30
    want, got = ck.load(whole).tensors, ck.load(cut).tensors
    assert want.keys() == got.keys()
    for name in want:
        if name.startswith(("model.", "grid.", "optim.")):
            torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-6, msg=name)


def test_exported_teacher_mesh_is_valid_and_coloured(taught, tmp_path):
    import numpy as np
    import trimesh

    from hfcli.cli import run
    from hfcli.studio.vocab import COLOURS
    from tests.gltf_check import validate_glb

    out, _, _ = taught
    glb = tmp_path / "bowl.glb"
    argv = ["export", str(out), "--prompt", "a red bowl", "--out", str(glb)]
    assert run([*argv, "--resolution", "64", "--texture-size", "256"]) == 0
    mesh = trimesh.load(glb, force="mesh", process=False)
    assert len(mesh.faces) > 500
    lo, hi = mesh.bounds
    assert (hi - lo).max() > 1.0  # bowl-sized, not a speck
    # The colour is in the baked texture (the default): trimesh samples it at each vertex's UV.
    colours = np.asarray(mesh.visual.to_color().vertex_colors)[:, :3] / 255.0
    median, albedo = np.median(colours, axis=0), np.array(COLOURS["red"])
    # Vertex colour = albedo × baked light: the same hue, no brighter than the albedo.
    assert median @ albedo / (np.linalg.norm(median) * np.linalg.norm(albedo)) > 0.98
    assert np.all(median <= albedo + 0.05) and median.max() > 0.4
    report = validate_glb(glb)
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"]


def test_baked_nerf_meshes_and_renders_like_its_teacher(taught, tmp_path):
    import numpy as np

    from hfcli.cli import run
    from hfcli.imageio import load_png

    out, _, _ = taught
    nerf = tmp_path / "red_bowl.safetensors"
    common = ["--resolution", "48"]
    assert (
        run(["export", str(out), "-p", "a red bowl", "--out", str(tmp_path / "a.glb"), "--nerf", str(nerf), *common])
        == 0
    )
    assert ck.read_header(nerf)["kind"] == "nerf"
    assert run(["export", str(nerf), "--out", str(tmp_path / "b.glb"), *common]) == 0
    assert (tmp_path / "a.glb").read_bytes() == (tmp_path / "b.glb").read_bytes()
    assert run(["render", str(out), "-p", "a red bowl", "--out", str(tmp_path / "a.png"), "--resolution", "32"]) == 0
    assert run(["render", str(nerf), "--out", str(tmp_path / "b.png"), "--resolution", "32"]) == 0
    a, b = load_png(tmp_path / "a.png"), load_png(tmp_path / "b.png")
    assert np.abs(a - b).max() <= 1 / 255 and a.min() < 0.5  # same picture, and not a blank one


def test_a_baked_nerf_meshes_with_its_models_blur(taught, tmp_path):
    """The blur a model records (FieldConfig.mesh_smooth_voxels) travels into the NeRFs baked
    from it: the same mesh from the model and from its baked NeRF, another with the blur overridden."""
    from hfcli.cli import run

    out, _, _ = taught
    model = ck.load(out)
    model.config["field"]["mesh_smooth_voxels"] = 0.5
    ck.save(model, tmp_path / "half.safetensors")
    nerf = tmp_path / "n.safetensors"
    common = ["--resolution", "48", "--vertex-colors"]
    glb = {name: tmp_path / f"{name}.glb" for name in ("model", "nerf", "one")}
    bake = ["export", str(tmp_path / "half.safetensors"), "-p", "a red bowl", "--nerf", str(nerf)]
    assert run([*bake, "--out", str(glb["model"]), *common]) == 0
    assert ck.read_header(nerf)["config"]["field"]["mesh_smooth_voxels"] == 0.5
    assert run(["export", str(nerf), "--out", str(glb["nerf"]), *common]) == 0
    assert run(["export", str(nerf), "--out", str(glb["one"]), "--smooth", "1", *common]) == 0
    assert glb["model"].read_bytes() == glb["nerf"].read_bytes() != glb["one"].read_bytes()


def test_meshing_only_occupied_cells_gives_the_same_mesh(taught):

    from hfcli.export import extract_mesh
    from hfcli.model import load_scene
    from hfcli.outputs import scene_mesh, surface_threshold

    out, _, _ = taught
    scene, _ = load_scene(str(out), "a mint bowl")
    level = surface_threshold(scene)
    full = extract_mesh(
        scene.density, scene.albedo, threshold=level, resolution=64, smooth_voxels=scene.field.cfg.mesh_smooth_voxels
    )
    fast = scene_mesh(scene, 64, level)
    from scipy.spatial import cKDTree

    assert abs(len(fast.faces) - len(full.faces)) <= 0.01 * len(full.faces)
    # The same surface: every vertex of each mesh lies on (next to) a vertex of the other.
    assert cKDTree(full.vertices).query(fast.vertices)[0].max() < 1e-3
    assert cKDTree(fast.vertices).query(full.vertices)[0].max() < 1e-3


def test_a_non_finite_gradient_rolls_back(tmp_path, monkeypatch):
    """One NaN in one gradient (loss still finite): the step is not taken, the last good state
    comes back, and training goes on to a finite model."""
    from hfcli.train import loop

    step = loop.Trainer.train_step
    poisoned = []

    losses = []

    def poison_once(self):
        if self.step != 5 or poisoned:
            figures = step(self)
            losses.append(figures["loss"])
            return figures
        poisoned.append(True)
        p = self.objective.parameters()[0]
        handle = p.register_hook(lambda g: g.flatten().index_fill(0, torch.tensor([0]), float("nan")).view_as(g))
        try:
            return step(self)
        finally:
            handle.remove()

    monkeypatch.setattr(loop.Trainer, "train_step", poison_once)
    out = tmp_path / "nan.safetensors"
    report = teach(PROMPTS[:1], out, small_config(10))
    assert poisoned and report["rollbacks"] == 1 and report["steps"] == 10
    assert all(math.isfinite(loss) for loss in losses)  # the NaN never reached the weights
    assert all(torch.isfinite(t).all() for t in ck.load(out).tensors.values())
