"""Outputs that would destroy inputs or each other: --nerf onto the model it reads, and batch
prompts whose file names coincide (issue "Holds up under faults", item 9)."""

import hashlib
import json
import shutil
from pathlib import Path

from hfcli.bundled import default_model_path
from hfcli.cli import run
from hfcli.studio.dataset import unique_slugs


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generate_nerf_onto_the_model_it_reads_is_refused(tmp_path, capsys):
    model = tmp_path / "model.safetensors"
    shutil.copyfile(default_model_path(), model)
    before = digest(model)
    for argv in (
        ["generate", "a red chair", "--model", str(model), "--out", str(tmp_path / "c.glb"), "--nerf", str(model)],
        ["export", str(model), "-p", "a red chair", "--out", str(tmp_path / "c.glb"), "--nerf", str(model)],
    ):
        assert run(argv) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "is the model this command reads" in err, err
    assert digest(model) == before and not (tmp_path / "c.glb").exists()


def test_unique_slugs_keep_every_prompt_apart():
    names = unique_slugs(["a red chair", "A red chair!", "a red chair 2", "a red chair", "a blue bowl"])
    assert names == ["a_red_chair", "a_red_chair_2", "a_red_chair_2_2", "a_red_chair_3", "a_blue_bowl"]
    assert len(set(names)) == len(names)


def test_batch_prompts_with_one_file_name_each_get_their_own_mesh(tmp_path, capsys):
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red chair\nA red chair!\na blue bowl\n")
    out = tmp_path / "meshes"
    argv = ["generate", "--prompts", str(prompts), "--out-dir", str(out), "--vertex-colors", "--resolution", "32"]
    assert run([*argv, "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    files = [Path(m["out"]) for m in result["meshes"]]
    assert len(set(files)) == 3 and all(f.exists() for f in files)
    assert sorted(p.name for p in out.iterdir()) == ["a_blue_bowl.glb", "a_red_chair.glb", "a_red_chair_2.glb"]
