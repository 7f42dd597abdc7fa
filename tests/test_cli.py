"""Bad input: one clear line on stderr, a non-zero exit, no traceback, nothing left on disk."""

import json
import subprocess
import sys

import pytest

from hfcli import checkpoint as ck
from hfcli.cli import run
from hfcli.hyper import HyperNet
from hfcli.model import model_state
from tests.test_checkpoint import CONFIG, SMALL_FIELD, SMALL_HYPER


@pytest.fixture
def teacher(tmp_path):
    path = tmp_path / "teacher.safetensors"
    hyper = HyperNet(SMALL_FIELD, SMALL_HYPER)
    ck.save(ck.Checkpoint("teacher", model_state(hyper), CONFIG, ["a red bowl"], "bundled:all-MiniLM-L6-v2"), path)
    return path


def _fails(capsys, argv, *fragments, code=1):
    rc = run([str(a) for a in argv])
    err = capsys.readouterr().err.strip()
    assert rc == code, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


def _files(path):
    return sorted(p.relative_to(path) for p in path.rglob("*"))


def _prompt_file(tmp_path, text, name="p.txt"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_missing_prompt_file(tmp_path, capsys):
    _fails(capsys, ["teach", tmp_path / "nope.txt", "--out", tmp_path / "t.safetensors"], "no such prompt file")
    assert _files(tmp_path) == []


def test_empty_prompt_file(tmp_path, capsys):
    path = _prompt_file(tmp_path, "# only a comment\n\n   \n")
    _fails(capsys, ["teach", path, "--out", tmp_path / "t.safetensors"], "holds no prompts")
    assert _files(tmp_path) == [path.relative_to(tmp_path)]


def test_ten_thousand_character_prompt(tmp_path, capsys):
    path = _prompt_file(tmp_path, "a red chair " * 834 + "\n")
    _fails(capsys, ["teach", path, "--out", tmp_path / "t.safetensors"], "limit is 1000")
    assert not (tmp_path / "t.safetensors").exists()


def test_prompt_the_studio_does_not_understand(tmp_path, capsys):
    path = _prompt_file(tmp_path, "a red chair\na fluffy dragon\n")
    _fails(capsys, ["teach", path, "--guidance", "studio", "--out", tmp_path / "t.safetensors"], "'fluffy'", "'dragon'")
    assert not (tmp_path / "t.safetensors").exists()


def test_negative_steps(tmp_path, capsys):
    path = _prompt_file(tmp_path, "a red chair\n")
    _fails(capsys, ["teach", path, "--steps", "-5", "--out", tmp_path / "t.safetensors"], "--steps must be at least 1")


def test_unwritable_out(tmp_path, capsys):
    path = _prompt_file(tmp_path, "a red chair\n")
    blocker = _prompt_file(tmp_path, "a file, not a directory", name="blocker")
    _fails(capsys, ["teach", path, "--out", blocker / "t.safetensors"], "not a writable directory")
    (tmp_path / "d.safetensors").mkdir()
    _fails(capsys, ["teach", path, "--out", tmp_path / "d.safetensors"], "is a directory")


def test_resume_without_checkpoint(tmp_path, capsys):
    path = _prompt_file(tmp_path, "a red chair\n")
    _fails(capsys, ["teach", path, "--resume", "--out", tmp_path / "t.safetensors"], "no checkpoint")


def test_corrupt_checkpoint(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{broken json....")
    out = tmp_path / "m.glb"
    _fails(capsys, ["export", bad, "--out", out], "not a valid safetensors file")
    _fails(capsys, ["render", bad, "--out", tmp_path / "m.png"], "not a valid safetensors file")
    assert not out.exists() and not (tmp_path / "m.png").exists()


def test_wrong_kind_checkpoint_for_resume(tmp_path, capsys, teacher):
    from hfcli.model import PromptModel, nerf_checkpoint

    scene = PromptModel.from_checkpoint(ck.load(teacher)).bake(["a red bowl"])[0]
    nerf = tmp_path / "n.safetensors"
    ck.save(nerf_checkpoint(scene, "bundled:all-MiniLM-L6-v2"), nerf)
    path = _prompt_file(tmp_path, "a red bowl\n")
    _fails(capsys, ["teach", path, "--resume", "--out", nerf], "is a nerf checkpoint; expected teacher")


def test_empty_and_long_prompt_for_a_model(tmp_path, capsys, teacher):
    _fails(capsys, ["export", teacher, "--prompt", "   ", "--out", tmp_path / "x.glb"], "empty prompt")
    _fails(capsys, ["render", teacher, "--prompt", "x" * 10_000, "--out", tmp_path / "x.png"], "limit is 1000")
    _fails(capsys, ["render", teacher, "--out", tmp_path / "x.png"], "give --prompt")
    _fails(capsys, ["render", teacher, "-p", "a red bowl", "--out", tmp_path / "x.jpg"], "expected a .png or .gif")
    assert not list(tmp_path.glob("x.*"))


def test_threshold_above_every_density_has_no_surface(tmp_path, capsys, teacher):
    _fails(
        capsys, ["export", teacher, "-p", "a red bowl", "--threshold", "1e6", "--out", tmp_path / "x.glb"], "no surface"
    )
    assert not (tmp_path / "x.glb").exists()


def test_hub_commands_are_passed_on(capsys):
    assert run(["download", "--help"]) == 0
    assert "Download files from the Hub" in capsys.readouterr().out


def test_console_script_prints_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "hfcli.cli", "teach", str(tmp_path / "none.txt")], capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"error: no such prompt file: {tmp_path / 'none.txt'}"


def test_studio_writes_a_nerf_synthetic_dataset(tmp_path):
    from PIL import Image

    from hfcli.imageio import load_png

    prompts = _prompt_file(tmp_path, "a red chair\nBlue bowl.\n")
    out = tmp_path / "data"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "hfcli.cli",
            "studio",
            str(prompts),
            "--out",
            str(out),
            "--views",
            "3",
            "--resolution",
            "32",
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [p.split("/")[-1] for p in result["datasets"]] == ["a_red_chair", "a_blue_bowl"]
    meta = json.loads((out / "a_red_chair" / "transforms.json").read_text())
    assert len(meta["frames"]) == 3 and 0.5 < meta["camera_angle_x"] < 1.0
    image = Image.open(out / "a_red_chair" / meta["frames"][0]["file_path"])
    assert image.mode == "RGBA" and image.size == (32, 32)
    alpha = (load_png(out / "a_red_chair" / meta["frames"][0]["file_path"]) < 0.99).any(-1)
    assert 0.05 < alpha.mean() < 0.9  # the chair is in view, not filling it
