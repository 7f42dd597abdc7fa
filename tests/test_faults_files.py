"""Issue 18, items 2, 6 and 8: atomic writes and studio datasets under kills, races and links."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from hfcli.errors import HfcliError
from hfcli.fsutil import atomic_path
from hfcli.studio.dataset import write_dataset
from hfcli.studio.vocab import parse_prompt

WRITER = textwrap.dedent(
    """
    import sys, time
    from hfcli.fsutil import atomic_path

    with atomic_path(sys.argv[1]) as tmp:
        tmp.write_bytes(sys.argv[2].encode())
        print("writing", flush=True)
        time.sleep(float(sys.argv[3]))
    """
)


def writer(path, content: str, hold: float) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), content, str(hold)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "writing"
    return child


def leftovers(directory, name: str) -> list[str]:
    return sorted(e for e in os.listdir(directory) if e.startswith(f".{name}.") and ".tmp" in e)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_temp_files_of_a_killed_write_are_removed_by_the_next_write(tmp_path, sig):
    target = tmp_path / "model.safetensors"
    child = writer(target, "first", hold=60)
    child.send_signal(sig)
    child.wait(timeout=30)
    assert leftovers(tmp_path, target.name)  # a kill runs no cleanup...
    assert not target.exists()
    writer(target, "second", hold=0).wait(timeout=30)
    assert leftovers(tmp_path, target.name) == []  # ...the next write to the path does
    assert target.read_text() == "second"


def test_temp_files_of_older_hfcli_versions_are_removed(tmp_path):
    """The single hidden temp files (.name.XXXX.tmp.suffix) earlier versions left behind."""
    target = tmp_path / "mesh.glb"
    old = tmp_path / ".mesh.glb.k3j_x9.tmp.glb"
    old.write_bytes(b"half a mesh")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    other = tmp_path / ".other.glb.k3j_x9.tmp.glb"  # another file's: not ours to touch
    other.write_bytes(b"x")
    os.utime(other, (time.time() - 3600, time.time() - 3600))
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"mesh")
    assert not old.exists() and other.exists() and target.read_bytes() == b"mesh"


def test_a_live_writers_temp_file_is_left_alone(tmp_path):
    """A write that started before this run and is still going is not taken for a stale one."""
    target = tmp_path / "out.png"
    slow = writer(target, "slow", hold=3)
    writer(target, "fast", hold=0).wait(timeout=30)
    assert slow.wait(timeout=30) == 0
    assert target.read_text() == "slow" and leftovers(tmp_path, target.name) == []


def _attack(directory, name: str, victim) -> None:
    """What someone who can write in `directory` (but not in our private directory) can do to the
    temporary entries there: swap a file for a link, or a directory for one holding a link."""
    for entry in os.listdir(directory):
        path = directory / entry
        if not (entry.startswith(f".{name}.") and ".tmp" in entry):
            continue
        if path.is_dir() and not path.is_symlink():
            path.rename(directory / "moved-away")
            path.mkdir()
            (path / name).symlink_to(victim)
        else:
            path.unlink()
            path.symlink_to(victim)


def test_a_swapped_symlink_does_not_redirect_an_atomic_write(tmp_path):
    out = tmp_path / "shared"
    out.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("precious")
    os.chmod(victim, 0o600)
    target = out / "out.bin"
    try:
        with atomic_path(target) as tmp:
            _attack(out, target.name, victim)
            tmp.write_bytes(b"new")
    except HfcliError:
        pass  # refusing is fine; writing through the link is not
    assert victim.read_text() == "precious"
    assert oct(victim.stat().st_mode & 0o777) == oct(0o600)  # not chmod-ed through the link
    assert not target.is_symlink()
    assert not target.exists() or target.read_bytes() == b"new"


def test_an_unwritable_output_is_one_error_naming_the_path(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    target = tmp_path / "file" / "a.png"
    with pytest.raises(HfcliError, match=f"cannot write {target}: "):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"x")


# ---------------------------------------------------------------- studio datasets (item 2)


def _check_dataset(directory) -> dict:
    meta = json.loads((directory / "transforms.json").read_text())
    for frame in meta["frames"]:
        assert (directory / frame["file_path"]).is_file(), frame["file_path"]
    assert sorted(os.listdir(directory / "images")) == sorted(f["file_path"][7:] for f in meta["frames"])
    return meta


def test_two_studio_runs_on_one_out_leave_a_whole_dataset(tmp_path):
    """Run B starts and finishes while run A is between two images: each writes its own
    temporary directory, and the dataset left is one of them whole (the one swapped in last)."""
    out = tmp_path / "a_red_bowl"
    red, blue = parse_prompt("a red bowl"), parse_prompt("a blue bowl")
    errors = []

    def run_b():
        try:
            write_dataset(blue, out, 2, 8)
        except BaseException as err:  # noqa: BLE001  (reported below)
            errors.append(err)

    def a_progress(done, total):
        if done == 1:
            b = threading.Thread(target=run_b)
            b.start()
            b.join()

    write_dataset(red, out, 3, 8, on_progress=a_progress)
    assert errors == []
    meta = _check_dataset(out)
    assert meta["colour"] == "red" and len(meta["frames"]) == 3
    assert [e for e in os.listdir(tmp_path) if e != "a_red_bowl"] == []  # no temporary left


def test_a_link_planted_at_the_studio_temp_name_is_not_followed(tmp_path):
    out = tmp_path / "out" / "a_red_bowl"
    out.parent.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (out.parent / ".a_red_bowl.tmp").symlink_to(elsewhere)
    write_dataset(parse_prompt("a red bowl"), out, 2, 8)
    assert os.listdir(elsewhere) == []
    _check_dataset(out)


def _hf(*argv) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hfcli.cli", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_sigterm_during_hf_studio_exits_143_with_one_line_and_leaves_no_temp(tmp_path):
    (tmp_path / "p.txt").write_text("a red bowl\n")
    out = tmp_path / "data"
    child = _hf("studio", str(tmp_path / "p.txt"), "--out", str(out), "--views", "400", "--resolution", "32")
    for _ in range(1200):  # until its temporary dataset directory holds an image
        if out.exists() and any(p.name.endswith(".png") for p in out.rglob("*")):
            break
        assert child.poll() is None, child.communicate()[1][-2000:]
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 143, err[-2000:]
    assert err.strip().splitlines()[-1] == "error: terminated" and "Traceback" not in err
    assert list(out.iterdir()) == []  # the half-written dataset went with it


def test_two_hf_studio_runs_on_one_out_both_leave_a_whole_dataset(tmp_path):
    (tmp_path / "p.txt").write_text("a red bowl\n")
    out = tmp_path / "data"
    runs = [_hf("studio", str(tmp_path / "p.txt"), "--out", str(out), "--views", "6", "--resolution", "16")]
    time.sleep(0.5)
    runs.append(_hf("studio", str(tmp_path / "p.txt"), "--out", str(out), "--views", "6", "--resolution", "16"))
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err[-2000:]
    _check_dataset(out / "a_red_bowl")
    assert sorted(os.listdir(out)) == ["a_red_bowl"]
