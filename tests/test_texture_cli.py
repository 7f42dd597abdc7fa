"""The mesh options on the command line with the bundled model: bad values fail in one line and
write nothing; the default pink chair is a small, valid, textured glb; OBJ, PLY and vertex
colours by option; the textured mesh measured against the truth (hfcli/evaluate.py)."""

from __future__ import annotations

import json

import pygltflib
import pytest
import trimesh

from hfcli import checkpoint as ck
from hfcli.cli import run
from hfcli.evaluate import mesh_psnr
from hfcli.model import PromptModel
from hfcli.output_config import TEXTURED_FACES, MeshConfig
from hfcli.outputs import mesh_for_file, surface_threshold
from hfcli.studio.truth import GroundTruth
from tests.gltf_check import validate_glb

MAX_DEFAULT_BYTES = 1_500_000  # the bar for `hf generate "a pink chair" --out chair.glb` (1.5 MB)


@pytest.mark.parametrize(
    "extra, out, fragment",
    [
        (["--faces", "10"], "c.glb", "--faces must be at least 500 (got 10)"),
        (["--texture-size", "1000"], "c.glb", "--texture-size must be a power of two from 64 to 8192 (got 1000)"),
        (["--texture-size", "16384"], "c.glb", "--texture-size must be a power of two from 64 to 8192 (got 16384)"),
        (["--texture-size", "32"], "c.glb", "--texture-size must be at least 64 (got 32)"),
        ([], "c.stl", "expected a .glb or .obj or .ply file"),
        (["--format", "obj"], "c.glb", "--format obj but --out"),
        (["--format", "stl"], "c.stl", "expected a .glb or .obj or .ply file"),
    ],
)
def test_bad_mesh_options_fail_in_one_line_and_write_nothing(tmp_path, capsys, extra, out, fragment):
    rc = run(["generate", "a pink chair", "--out", str(tmp_path / out), *extra])
    err = capsys.readouterr().err.strip()
    assert rc == 1 and err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert fragment in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_bad_format_for_a_prompt_file_fails_before_the_model_loads(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a pink chair\n")
    rc = run(["generate", "--prompts", str(prompts), "--out-dir", str(tmp_path / "out"), "--format", "stl"])
    err = capsys.readouterr().err
    assert rc == 1 and "--format must be one of glb, obj, ply (got 'stl')" in err
    assert not (tmp_path / "out").exists()


def test_the_default_pink_chair_is_a_small_valid_textured_glb(tmp_path, capsys):
    out = tmp_path / "chair.glb"
    assert run(["generate", "a pink chair", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["faces"] <= TEXTURED_FACES and result["texture"] == [1024, 1024]
    assert out.stat().st_size <= MAX_DEFAULT_BYTES, out.stat().st_size
    issues = validate_glb(out)["issues"]
    assert (issues["numErrors"], issues["numWarnings"]) == (0, 0), issues["messages"]
    g = pygltflib.GLTF2().load(str(out))
    assert g.meshes[0].primitives[0].attributes.TEXCOORD_0 is not None and len(g.images) == 1


def test_obj_ply_and_vertex_colours_by_option(tmp_path, capsys):
    common = ["--resolution", "48", "--texture-size", "128", "--json"]
    assert run(["generate", "a pink chair", "--out", str(tmp_path / "c.obj"), *common]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mtl", "c.obj", "c.png"]
    tm = trimesh.load(tmp_path / "c.obj", process=False)
    assert tm.visual.material.image.size == (128, 128)
    capsys.readouterr()
    assert run(["generate", "a pink chair", "--out", str(tmp_path / "v.glb"), "--vertex-colors", *common]) == 0
    dense = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    prim = pygltflib.GLTF2().load(str(tmp_path / "v.glb")).meshes[0].primitives[0]
    assert prim.attributes.COLOR_0 is not None and prim.attributes.TEXCOORD_0 is None and dense["texture"] is None
    prompts = tmp_path / "p.txt"
    prompts.write_text("a pink chair\na red bowl\n")
    argv = ["generate", "--prompts", str(prompts), "--out-dir", str(tmp_path / "ply"), "--format", "ply", *common]
    assert run(argv) == 0
    assert sorted(p.name for p in (tmp_path / "ply").iterdir()) == ["a_pink_chair.ply", "a_red_bowl.ply"]
    ply = trimesh.load(tmp_path / "ply" / "a_pink_chair.ply", process=False)
    assert len(ply.faces) == dense["faces"]  # a .ply keeps every triangle, like --vertex-colors
    assert ply.visual.vertex_colors[:, 0].mean() > ply.visual.vertex_colors[:, 1].mean() + 30  # pink: red over green


def test_the_textured_toaster_against_the_truth():
    """The written mesh (1,000 triangles) scored against the truth's exact surface drawn as a mesh
    (at 32², to be quick; 32.4 dB): far above a blank (10.6), above vertex colours on as few
    triangles (28.3), where a texture holds the colour the vertices are too sparse for, and above
    the same mesh cut where the field's density is smooth, 0.02 outside its surface (25.3)."""
    model = PromptModel.from_checkpoint(ck.load("default"))
    scene = model.bake(["a yellow toaster"])[0]  # held out; its rounded box shades smoothly across faces
    truth = GroundTruth(["a yellow toaster"])
    cfg = MeshConfig(faces=1000, texture_size=512)
    textured, _, _ = mesh_for_file(scene, cfg)
    vertex, _, _ = mesh_for_file(scene, MeshConfig(faces=1000, vertex_colors=True))
    outer, _, _ = mesh_for_file(scene, cfg, threshold=surface_threshold(scene))
    tex_psnr, vc_psnr, outer_psnr = (mesh_psnr(m, truth, 0, 32) for m in (textured, vertex, outer))
    print(f"textured {tex_psnr:.2f} dB, vertex colours {vc_psnr:.2f} dB, outer level {outer_psnr:.2f} dB")
    assert tex_psnr > 30.0
    assert tex_psnr > vc_psnr + 2.0
    assert tex_psnr > outer_psnr + 3.0
