"""`hf teach --shard i/n --out-dir DIR`: every machine splits the prompt files the same way, and
every file is taught exactly once over the n shards. The trainer is replaced by a recorder (what
is under test is which files go where, not training)."""

import json
import random
from pathlib import Path

import pytest

from hfcli.cli import run
from hfcli.shards import parse_shard, shard_files
from hfcli.train import teach as teach_module


@pytest.fixture
def taught(monkeypatch):
    calls = []

    def fake_teach(prompts, out, cfg, resume=False, report=None):
        calls.append({"prompts": prompts, "out": Path(out), "resume": resume})
        return {"out": str(out), "steps": cfg.loop.steps, "seconds": 0.0, "psnr": None, "prompts": prompts}

    monkeypatch.setattr(teach_module, "teach", fake_teach)
    return calls


def _files(root: Path, n: int) -> list[Path]:
    files = []
    for k in range(n):
        path = root / f"shape{k}.txt"
        path.write_text(f"a red bowl {k}\n" if k % 2 else "# a comment\na blue plate\n")
        files.append(path)
    return files


def test_the_split_does_not_depend_on_the_order_files_are_given(tmp_path):
    files = _files(tmp_path, 11)
    for count in (1, 2, 3, 4, 11, 12):
        expected = [shard_files(files, i, count) for i in range(count)]
        for seed in range(5):
            shuffled = random.Random(seed).sample(files, len(files))
            assert [shard_files(shuffled + shuffled[:2], i, count) for i in range(count)] == expected


def test_every_file_is_taught_exactly_once_across_the_shards(tmp_path, taught, capsys):
    files = _files(tmp_path, 7)
    out_dir = tmp_path / "teachers"
    for index in range(3):  # three machines, each with the files in its own glob order
        order = random.Random(index).sample(files, len(files))
        args = ["teach", *map(str, order), "--shard", f"{index}/3", "--out-dir", str(out_dir), "--json"]
        assert run(args) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert report["shard"] == f"{index}/3"
        assert [t["prompts_file"] for t in report["teachers"]] == [str(f) for f in shard_files(files, index, 3)]
    outs = [c["out"] for c in taught]
    assert sorted(outs) == sorted(out_dir / f"{f.stem}.safetensors" for f in files)  # each once, none twice
    assert {tuple(c["prompts"]) for c in taught} == {tuple(f.read_text().split("\n")[-2:-1]) for f in files}


def test_a_shard_with_no_file_says_so_and_succeeds(tmp_path, taught, capsys):
    files = _files(tmp_path, 2)
    assert run(["teach", *map(str, files), "--shard", "4/5", "--out-dir", str(tmp_path / "t"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip()) == {"shard": "4/5", "teachers": []}
    assert taught == []


@pytest.mark.parametrize("value", ["3/2", "0/0", "a/b", "1", "-1/2", "1/2/3"])
def test_a_bad_shard_is_one_line_and_nothing_runs(tmp_path, taught, capsys, value):
    files = _files(tmp_path, 3)
    assert run(["teach", *map(str, files), "--shard", value, "--out-dir", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--shard" in err[0], err
    assert taught == [] and not (tmp_path / "t").exists()


def test_parse_shard_numbers_from_zero():
    assert parse_shard("0/4") == (0, 4) and parse_shard("3/4") == (3, 4)
    with pytest.raises(ValueError):
        parse_shard("4/4")


def test_one_file_with_out_is_taught_as_before(tmp_path, taught, capsys):
    (path,) = _files(tmp_path, 1)
    out = tmp_path / "bowl.safetensors"
    assert run(["teach", str(path), "--out", str(out), "--json"]) == 0
    assert taught == [{"prompts": ["a blue plate"], "out": out, "resume": False}]
    assert json.loads(capsys.readouterr().out.strip())["out"] == str(out)  # the one teacher's report, as before


def test_bad_combinations_fail_before_any_training(tmp_path, taught, capsys):
    files = _files(tmp_path, 2)
    assert run(["teach", *map(str, files), "--out", str(tmp_path / "x.safetensors")]) == 1
    other = tmp_path / "other"
    other.mkdir()
    (other / "shape0.txt").write_text("a green vase\n")  # a second file named shape0
    assert run(["teach", *map(str, files), str(other / "shape0.txt"), "--out-dir", str(tmp_path / "t")]) == 1
    (tmp_path / "empty.txt").write_text("# nothing\n")
    assert run(["teach", *map(str, files), str(tmp_path / "empty.txt"), "--out-dir", str(tmp_path / "t")]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line]
    assert len(errors) == 3 and all(e.startswith("error: ") for e in errors), errors
    assert taught == []
