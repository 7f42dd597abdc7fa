"""Size options are bounded by the memory they imply (issue "Holds up under faults", item 5):
each hostile size is one line naming its bound, refused under an address-space limit so that a
regression fails here instead of swapping."""

import json
import subprocess
import sys
import textwrap

import pytest

from hfcli.config import FinetuneConfig, validate
from hfcli.errors import HfcliError
from hfcli.output_config import RenderConfig

HOSTILE = {
    "mesh resolution": ["generate", "a red chair", "--out", "{tmp}/c.glb", "--resolution", "1200"],
    "render pixels": [
        "render",
        "default",
        "-p",
        "a red chair",
        "--views",
        "720",
        "--resolution",
        "2048",
        "--out",
        "{tmp}/r.gif",
    ],  # fmt: skip
    "mesh blur": ["generate", "a red chair", "--smooth", "1e9", "--out", "{tmp}/c.glb"],
    "render size": ["render", "default", "-p", "a red chair", "--resolution", "100000", "--out", "{tmp}/r.png"],
    "rays per step": [
        "teach",
        "prompts/bowl.txt",
        "--rays-per-step",
        "1000000",
        "--steps",
        "1",
        "--out",
        "{tmp}/t.safetensors",
    ],  # fmt: skip
    "frames": ["interpolate", "a red chair", "a blue chair", "--frames", "100000", "--out", "{tmp}/morph"],
    "studio pixels": ["studio", "prompts/bowl.txt", "--views", "10000", "--resolution", "1024", "--out", "{tmp}/d"],
}


def test_hostile_sizes_are_one_line_each_under_a_memory_limit(tmp_path):
    """All in one child that caps its address space at 1.5 GB over what torch and hfcli map."""
    child = textwrap.dedent(
        """
        import contextlib, io, json, resource, sys
        from hfcli.cli import run
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + (3 << 29), resource.RLIM_INFINITY))
        results = {}
        for name, argv in json.loads(sys.argv[1]).items():
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = run(argv)
            results[name] = [code, err.getvalue()]
        print(json.dumps(results))
        """
    )
    cases = {k: [a.format(tmp=tmp_path) for a in argv] for k, argv in HOSTILE.items()}
    out = subprocess.run([sys.executable, "-c", child, json.dumps(cases)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    for name, (code, err) in results.items():
        lines = err.strip().splitlines()
        assert code == 1 and len(lines) == 1 and "must be at most" in lines[0], (name, code, err)
    assert not any(tmp_path.iterdir())  # nothing written


def test_sizes_at_their_bounds_pass_and_one_more_does_not():
    validate(RenderConfig(views=24, resolution=1000))  # 24M pixels: the bound itself
    with pytest.raises(HfcliError, match="24,000,000 pixels"):
        validate(RenderConfig(views=25, resolution=1000))
    validate(FinetuneConfig(rays_per_step=12_288))
    with pytest.raises(HfcliError, match="--rays-per-step must be at most 12,288 .*90 KB a ray"):
        validate(FinetuneConfig(rays_per_step=12_289))


def test_interpolate_bakes_a_chunk_at_a_time_and_writes_each_frame_before_the_next_chunk(tmp_path, monkeypatch):
    """A long morph streams: no bake covers more than BAKE_CHUNK frames, and every frame of a
    chunk is on disk before the next chunk is baked (item 5: interpolate baked all up front)."""
    from hfcli import interpolate as interp
    from hfcli.model import PromptModel
    from hfcli.output_config import InterpolateConfig

    bakes, real = [], PromptModel.interpolate

    def recording(self, a, b, ts):
        bakes.append((len(ts), len(list(tmp_path.glob("frame_*.ply")))))
        return real(self, a, b, ts)

    monkeypatch.setattr(PromptModel, "interpolate", recording)
    cfg = InterpolateConfig(frames=interp.BAKE_CHUNK + 3, resolution=32, format="ply", vertex_colors=True)
    result = interp.interpolate("default", "a red chair", "a blue chair", tmp_path, cfg)
    assert len(result["frames"]) == cfg.frames
    assert bakes == [(interp.BAKE_CHUNK, 0), (3, interp.BAKE_CHUNK)]
