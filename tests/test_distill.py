"""distill and generate: a student learns tiny teachers; bad teacher sets fail clearly."""

import json

import pytest

from hfcli import bundled
from hfcli import checkpoint as ck
from hfcli.cli import run
from hfcli.config import DistillConfig
from hfcli.errors import HfcliError
from hfcli.metrics import psnr
from hfcli.model import PromptModel
from hfcli.outputs import render_views
from hfcli.render import cameras as cams
from hfcli.train.distill import distill
from hfcli.train.teach import teach
from tests.test_teach import small_config


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    root = tmp_path_factory.mktemp("teachers")
    paths = [root / "bowl.safetensors", root / "plate.safetensors"]
    teach(["a red bowl"], paths[0], small_config(60))
    teach(["a blue plate"], paths[1], small_config(60))
    return paths


@pytest.fixture(scope="module")
def student(teachers, tmp_path_factory):
    seen = []
    out = tmp_path_factory.mktemp("student") / "student.safetensors"
    report = distill(
        teachers, None, out, small_config(60, DistillConfig), report=lambda t, d, n, f: seen.append((t, f))
    )
    return out, report, seen


def test_distill_lowers_the_student_teacher_loss(teachers, student):
    out, report, seen = student
    train = [f["psnr"] for t, f in seen if t == "training"]
    assert report["prompts"] == ["a red bowl", "a blue plate"]
    assert max(train[-5:]) > train[0] + 6.0, (train[0], train[-5:])  # the student moves well towards the teachers
    header = ck.read_header(out)
    assert header["kind"] == "student" and header["extra"]["teachers"] == [str(p) for p in teachers]
    assert report["psnr"] is not None and report["psnr"] > 18.0


def test_generate_from_a_model(teachers, tmp_path, capsys):
    out = tmp_path / "bowl.glb"
    rc = run(
        [
            "generate",
            "a red bowl",
            "--model",
            str(teachers[0]),
            "--out",
            str(out),
            "--resolution",
            "48",
            "--preview",
            str(tmp_path / "p.png"),
            "--json",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["out"] == str(out) and out.stat().st_size > 1000 and (tmp_path / "p.png").exists()
    stages = {"load", "text", "hypernet", "mesh", "decimate", "unwrap", "bake", "write", "extras"}
    assert set(result["seconds"]) == stages

    prompts = tmp_path / "p.txt"
    prompts.write_text("a red bowl\na pink bowl\n")
    rc = run(
        [
            "generate",
            "--prompts",
            str(prompts),
            "--model",
            str(teachers[0]),
            "--out-dir",
            str(tmp_path / "many"),
            "--resolution",
            "48",
            "--json",
        ]
    )
    assert rc == 0
    assert sorted(p.name for p in (tmp_path / "many").iterdir()) == ["a_pink_bowl.glb", "a_red_bowl.glb"]


def test_prompt_no_teacher_holds(teachers, tmp_path):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red bowl\na green chair\n")
    with pytest.raises(HfcliError, match="no teacher holds 1 prompt.*'a green chair'"):
        distill(teachers, ["a red bowl", "a green chair"], tmp_path / "s.safetensors", small_config(1, DistillConfig))
    assert not (tmp_path / "s.safetensors").exists()


def test_teachers_with_different_text_encoders(teachers, tmp_path, capsys):
    other = tmp_path / "other.safetensors"
    c = ck.load(teachers[1])
    c.text_encoder = str(tmp_path / "some-other-encoder")
    ck.save(c, other)
    rc = run(["distill", str(teachers[0]), str(other), "--out", str(tmp_path / "s.safetensors")])
    err = capsys.readouterr().err
    assert rc == 1 and "different text encoders" in err and len(err.strip().splitlines()) == 1


def test_empty_teacher_list(tmp_path, capsys):
    rc = run(["distill", "--out", str(tmp_path / "s.safetensors")])
    assert rc == 1 and "no teachers given" in capsys.readouterr().err
    assert not (tmp_path / "s.safetensors").exists()


def test_eval_reports_metrics_and_the_retrieval_baseline(teachers, tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red bowl\na pink bowl\n")
    rc = run(["eval", str(teachers[0]), "--prompts", str(prompts), "--json"])
    assert rc == 0, capsys.readouterr().err
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    red, pink = result["prompts"]
    assert red["retrieved"] == "a red bowl" and pink["retrieved"] == "a red bowl"  # the only bowl it knows
    assert red["baseline"]["psnr"] == red["psnr"]  # a training prompt is its own nearest neighbour
    assert red["psnr"] > 20 and 0.5 < red["ssim"] <= 1 and red["iou"] > 0.8
    assert 0 < red["chamfer"] < 0.1  # in scene units; the object spans about 1.6
    assert result["mean"]["psnr"] is not None and result["baseline_mean"]["psnr"] is not None


def test_eval_refuses_prompts_outside_the_studio(teachers, tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red bowl\na cosy cabin\n")
    assert run(["eval", str(teachers[0]), "--prompts", str(prompts)]) == 1
    assert "prompt 2" in capsys.readouterr().err


def test_interpolation_bakes_the_straight_line_between_the_two_scene_codes(teachers):
    """Frame t is the NeRF of (1 - t) z_a + t z_b, with z_a and z_b each computed on its own
    (not in the batched call `interpolate` makes). t = 0.25 is not symmetric, so a swapped t
    or t**2 fails, and it is inside, so walking the token states instead of the codes fails."""
    import torch

    model = PromptModel.from_checkpoint(ck.load(teachers[0]))
    a, b = "a red bowl", "a pink bowl"
    ts = [0.0, 0.25, 0.5, 1.0]
    frames = model.interpolate(a, b, ts)
    with torch.no_grad():
        z_a = model.hyper.scene_code(model.encoder.encode([a]))[0]
        z_b = model.hyper.scene_code(model.encoder.encode([b]))[0]
        expected = model.hyper.bake_codes(torch.stack([(1 - t) * z_a + t * z_b for t in ts]))
    field = model.hyper.field
    pts = torch.rand(500, 3, generator=torch.Generator().manual_seed(0)) * 2 - 1
    want = [field.query(pts, w) for w in expected]
    assert len(frames) == len(ts)
    for t, frame, (sigma, rgb) in zip(ts, frames, want):
        got_sigma, got_rgb = frame.query(pts)
        torch.testing.assert_close(got_sigma, sigma, rtol=1e-5, atol=1e-5, msg=lambda m, t=t: f"density at t={t}: {m}")
        torch.testing.assert_close(got_rgb, rgb, rtol=1e-5, atol=1e-5, msg=lambda m, t=t: f"albedo at t={t}: {m}")
    # The test has teeth only if the frames it tells apart differ far beyond its tolerance.
    assert (want[0][1] - want[-1][1]).abs().max() > 1e-4
    assert (want[0][1] - want[1][1]).abs().max() > 1e-4


def test_interpolate_command_writes_frames_and_gif(teachers, tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "morph"
    rc = run(
        [
            "interpolate",
            "a red bowl",
            "a pink bowl",
            "--model",
            str(teachers[0]),
            "--frames",
            "3",
            "--out",
            str(out),
            "--resolution",
            "32",
            "--json",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["frame_000.glb", "frame_001.glb", "frame_002.glb", "morph.gif"]
    assert Image.open(out / "morph.gif").n_frames == 4  # there and back


def test_a_packed_student_is_small_and_bakes_the_same_nerf(student, tmp_path, monkeypatch):
    out, _, _ = student
    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path / "weights")
    packed = bundled.default_model_path()
    packed.parent.mkdir()
    ck.save(ck.pack(ck.load(out), {"commands": ["hf distill …"]}), packed)
    assert packed.stat().st_size < 0.4 * out.stat().st_size  # no optimiser state, no grids, float16
    assert ck.read_header("default")["extra"]["bundle"]["commands"] == ["hf distill …"]
    full = PromptModel.from_checkpoint(ck.load(out))
    small = PromptModel.from_checkpoint(ck.load("default"), full.encoder)
    cameras = cams.eval_cameras()
    a, _ = render_views(full.bake(["a red bowl"])[0], cameras, 32)
    b, _ = render_views(small.bake(["a red bowl"])[0], cameras, 32)
    assert psnr(b, a) > 40.0  # float16 weights change the image by less than the eval noise


def test_generate_without_model_uses_the_bundled_one(student, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bundled, "WEIGHTS_DIR", tmp_path / "weights")
    rc = run(["generate", "a red bowl", "--out", str(tmp_path / "a.glb")])
    assert rc == 1 and "no default model" in capsys.readouterr().err
    assert not (tmp_path / "a.glb").exists()
    bundled.WEIGHTS_DIR.mkdir()
    ck.save(ck.pack(ck.load(student[0]), {}), bundled.default_model_path())
    rc = run(["generate", "a red bowl", "--out", str(tmp_path / "a.glb"), "--resolution", "32", "--json"])
    assert rc == 0 and (tmp_path / "a.glb").stat().st_size > 500
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["note"] is None


def test_generate_notes_a_shape_the_model_never_learned(teachers, tmp_path, capsys):
    rc = run(
        [
            "generate",
            "a green mug",
            "--model",
            str(teachers[0]),
            "--out",
            str(tmp_path / "m.glb"),
            "--resolution",
            "32",
            "--json",
        ]
    )
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "names none of the shapes this model learned (bowl)" in captured.err
    assert "hf finetune --guidance sd" in json.loads(captured.out.strip().splitlines()[-1])["note"]
