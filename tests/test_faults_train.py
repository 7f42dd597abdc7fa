"""Issue 18, items 6 and 7: a teach run stopped by SIGINT, SIGTERM or SIGKILL.

SIGINT and SIGTERM save a resumable checkpoint and exit 130 / 143 with one line; SIGKILL at a
random point leaves a file that loads (the last periodic save, whole); and either way `--resume`
ends where a run that never stopped does. The runs are the real `hf teach` command line in a
child process, on a tiny model (shrink below) so each takes seconds.
"""

import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from hfcli import checkpoint as ck
from hfcli.config import FieldConfig, HyperConfig, TeachConfig
from hfcli.train import fit
from hfcli.train.teach import teach

STEPS = 16
PROMPT = "a red bowl"
ROOT = Path(__file__).resolve().parents[1]


def shrink(cfg: TeachConfig, save_every: int) -> TeachConfig:
    """The tiny model and ray pool these runs use (the command line has no options for them)."""
    cfg.field = FieldConfig(plane_res=32, plane_features=4, grid_res=8, grid_features=4, hidden=16)
    cfg.hyper = HyperConfig(d_model=32, n_heads=2, head_hidden=32, n_probe=64)
    cfg.pool_rays = 1 << 12
    cfg.loop.grid_warmup = 8
    cfg.loop.save_every = save_every
    return cfg


def no_evaluation(scenes, truth, report=None) -> dict:
    """The end-of-run evaluation (16 views per prompt) is not under test here; it is skipped."""
    return {"psnr": None, "per_prompt": {}}


CHILD = textwrap.dedent(
    """
    import sys
    import hfcli.train.teach as core
    from hfcli.cli import run
    from hfcli.train import fit
    from tests.test_faults_train import no_evaluation, shrink

    real = core.teach

    def small(prompts, out, cfg, report=None, **kw):
        def told(task, done, total, figures):
            if task == "training":
                print("step", done, flush=True)
            report(task, done, total, figures)
        return real(prompts, out, shrink(cfg, int(sys.argv[1])), report=told, **kw)

    core.teach = small
    fit.evaluate_scenes = no_evaluation
    sys.exit(run(sys.argv[2:]))
    """
)


def hf_teach(prompts: Path, out: Path, steps: int, save_every: int, resume: bool = False) -> subprocess.Popen:
    argv = ["teach", str(prompts), "--out", str(out), "--steps", str(steps), "--rays-per-step", "256"]
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(save_every), *argv, *(["--resume"] if resume else [])],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_step(child: subprocess.Popen, step: int) -> None:
    for line in child.stdout:
        if line.split() == ["step", str(step)]:
            return
    raise AssertionError(f"the run ended before step {step}: {child.communicate()[1][-2000:]}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The tensors of a run of STEPS steps that never stopped (the same config, in this process)."""
    out = tmp_path_factory.mktemp("whole") / "whole.safetensors"
    cfg = shrink(TeachConfig(rays_per_step=256), save_every=10)
    cfg.loop.steps = STEPS
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fit, "evaluate_scenes", no_evaluation)
        teach([PROMPT], out, cfg)
    return ck.load(out).tensors


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """One run stopped three times: by SIGINT, then (resumed) by SIGTERM, then (resumed, saving
    every 3 steps) by SIGKILL at a random step; then resumed to the end."""
    root = tmp_path_factory.mktemp("chain")
    prompts, out = root / "p.txt", root / "t.safetensors"
    prompts.write_text(PROMPT + "\n")
    seen = {}
    for sig, resume, save_every, step in (
        (signal.SIGINT, False, 1000, 3),  # no periodic save before the end: the signal's is the only one
        (signal.SIGTERM, True, 1000, 0),
        (signal.SIGKILL, True, 3, random.Random().randrange(2, 8)),
    ):
        before = ck.read_header(out)["step"] if out.exists() else 0
        child = hf_teach(prompts, out, STEPS, save_every, resume)
        wait_for_step(child, before + max(step, 1))
        child.send_signal(sig)
        _, err = child.communicate(timeout=120)
        seen[sig] = (child.returncode, err, before, ck.read_header(out)["step"], before + step)
    last = hf_teach(prompts, out, STEPS, 1000, resume=True)
    _, err = last.communicate(timeout=300)
    assert last.returncode == 0, err[-2000:]
    return root, out, seen


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_teach_saves_and_exits_with_one_line(chain, sig, code):
    rc, err, before, saved_at, _ = chain[2][sig]
    assert rc == code, err[-2000:]
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"error: interrupted by {signal.Signals(sig).name} at step ") and "--resume" in last, err
    assert "Traceback" not in err
    assert before < saved_at < STEPS  # saved where it stopped, though no periodic save was due


def test_sigkill_at_a_random_point_leaves_a_file_that_loads(chain):
    rc, err, before, saved_at, killed_at = chain[2][signal.SIGKILL]
    assert rc == -signal.SIGKILL
    assert saved_at == before or (saved_at % 3 == 0 and saved_at <= killed_at + 3), (before, saved_at, killed_at)
    assert [e.name for e in chain[0].iterdir() if e.name.startswith(".")] == []  # the kill's temp is gone


def test_the_resumed_run_ends_where_an_uninterrupted_one_does(chain, uninterrupted):
    got = ck.load(chain[1]).tensors
    assert ck.read_header(chain[1])["step"] == STEPS
    for name in uninterrupted:
        if name.startswith(("model.", "grid.", "optim.")):
            torch.testing.assert_close(got[name], uninterrupted[name], rtol=1e-4, atol=1e-6, msg=name)


def test_a_signal_in_the_last_step_still_stops_the_run(tmp_path, monkeypatch):
    """In process: SIGINT during step 4 of 4 is a stop (saved, one line), not a run that goes on to
    its evaluation; the handlers before training are back afterwards."""
    import os

    from hfcli.errors import Interrupted

    monkeypatch.setattr(fit, "evaluate_scenes", no_evaluation)
    cfg = shrink(TeachConfig(rays_per_step=256), save_every=1000)
    cfg.loop.steps = 4
    before = signal.getsignal(signal.SIGINT)

    def report(task, done, total, figures):
        if task == "training" and done == 4:
            os.kill(os.getpid(), signal.SIGINT)  # after the last step's save, before the loop ends

    out = tmp_path / "t.safetensors"
    with pytest.raises(
        Interrupted, match=r"^interrupted by SIGINT at step 4 of 4; saved: continue with --resume"
    ) as info:
        teach([PROMPT], out, cfg, report=report)
    assert info.value.exit_code == 130
    assert ck.read_header(out)["step"] == 4
    assert signal.getsignal(signal.SIGINT) is before


def test_two_teach_runs_on_one_out_leave_a_file_that_loads(tmp_path):
    """Two `hf teach` on the same --out at once, both saving every 2 steps: both finish, and the
    file is always one whole checkpoint (the last rename wins), never a mix of the two."""
    prompts, out = tmp_path / "p.txt", tmp_path / "t.safetensors"
    prompts.write_text(PROMPT + "\n")
    children = [hf_teach(prompts, out, 8, 2) for _ in range(2)]
    for child in children:
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err[-2000:]
    ck.load(out)  # whole: its tensors load
    header = ck.read_header(out)
    assert header["step"] == 8 and header["prompts"] == [PROMPT]
    assert not [p for p in tmp_path.iterdir() if p.name not in ("p.txt", "t.safetensors")]  # no temp left
