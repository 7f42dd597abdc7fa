"""Issue 18, items 3 and 9: crafted checkpoint headers and tensors are refused in one line, before
anything is allocated; a directory or FIFO given as a model is named for what it is."""

import copy
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from hfcli import checkpoint as ck
from hfcli.cli import run
from hfcli.errors import CheckpointError
from hfcli.field import Field, FieldConfig
from hfcli.hyper import HyperConfig, HyperNet
from hfcli.model import NerfScene, PromptModel, model_state, nerf_checkpoint, scene_from_nerf
from hfcli.scene import new_grid

FIELD = FieldConfig(plane_res=8, plane_features=2, grid_res=4, grid_features=2, hidden=8)
HYPER = HyperConfig(d_model=16, n_heads=2, head_hidden=16, n_probe=16)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """A small teacher and a small baked NeRF, as files."""
    root = tmp_path_factory.mktemp("orig")
    teacher = root / "teacher.safetensors"
    config = {"field": FIELD.to_dict(), "hyper": HYPER.to_dict()}
    ck.save(ck.Checkpoint("teacher", model_state(HyperNet(FIELD, HYPER)), config, ["a red bowl"], "enc"), teacher)
    nerf = root / "nerf.safetensors"
    weights = [(torch.randn(o, i), torch.randn(o)) for o, i in FIELD.layer_shapes()]
    ck.save(nerf_checkpoint(NerfScene(Field(FIELD), weights, new_grid(), "a red bowl"), "enc"), nerf)
    return {"teacher": teacher, "nerf": nerf}


def craft(src, dst, header=None, tensors=None):
    """A copy of `src` with its header (a function of the header, or raw text) and tensors changed."""
    with safe_open(str(src), framework="pt") as f:
        meta = json.loads(f.metadata()["hfcli"])
    data = load_file(str(src))
    raw = header if isinstance(header, str) else json.dumps(header(copy.deepcopy(meta)) if header else meta)
    if tensors is not None:
        tensors(data)
    save_file(data, str(dst), metadata={"hfcli": raw})
    return dst


def build(path):
    """What generate, render and export do with a model file."""
    loaded = ck.load(path)
    return scene_from_nerf(loaded) if loaded.kind == "nerf" else PromptModel.from_checkpoint(loaded)


def put(where: str, value):
    """A header edit: set the value at a dotted path ('config.field.plane_res')."""
    *parents, last = where.split(".")

    def edit(header):
        node = header
        for key in parents:
            node = node[key]
        node[last] = value
        return header

    return edit


def drop(where: str):
    *parents, last = where.split(".")

    def edit(header):
        node = header
        for key in parents:
            node = node[key]
        del node[last]
        return header

    return edit


HEADER_CASES = {
    "header-is-a-list": ("teacher", "[1, 2, 3]"),
    "config-missing": ("teacher", drop("config")),
    "hyper-missing": ("teacher", drop("config.hyper")),
    "prompts-a-string": ("teacher", put("prompts", "a red bowl")),
    "prompts-nested": ("teacher", put("prompts", [["a red bowl"]])),
    "step-a-string": ("teacher", put("step", "7")),
    "step-negative": ("teacher", put("step", -3)),
    "text-encoder-a-number": ("teacher", put("text_encoder", 5)),
    "plane-res-negative": ("teacher", put("config.field.plane_res", -4)),
    "plane-res-nested": ("teacher", put("config.field.plane_res", [[8]])),
    "hidden-a-fraction": ("nerf", put("config.field.hidden", 1.5)),
    "hidden-zero": ("nerf", put("config.field.hidden", 0)),
    "unknown-setting": ("nerf", put("config.field.colour", "red")),
    "field-a-list": ("nerf", put("config.field", [1, 2])),
    "heads-not-dividing": ("teacher", put("config.hyper.n_heads", 3)),
    "max-tokens-zero": ("teacher", put("config.hyper.max_tokens", 0)),
    "dynamic-a-string": ("teacher", put("config.hyper.dynamic", "yes")),
    "sigma-max-nan": ("nerf", put("config.field.sigma_max", float("nan"))),
    "mesh-blur-huge": ("nerf", put("config.field.mesh_smooth_voxels", 1e9)),  # a kernel of 8e9 voxels
    "mesh-blur-negative": ("teacher", put("config.field.mesh_smooth_voxels", -1.0)),
    "adam-step-a-string": ("teacher", put("extra", {"adam_step": "many"})),
    "plane-res-huge": ("nerf", put("config.field.plane_res", 1 << 20)),
    "probe-huge": ("teacher", put("config.hyper.n_probe", 1 << 40)),
}


def _set(name, value):
    return lambda tensors: tensors.__setitem__(name, value)


TENSOR_CASES = {
    "mlp-wrong-shape": _set("mlp.0.weight", torch.randn(3, 3)),
    "mlp-integer": _set("mlp.0.weight", torch.zeros(FIELD.layer_shapes()[0], dtype=torch.int32)),
    "mlp-missing": lambda t: t.pop("mlp.1.bias"),
    "grid-wrong-shape": _set("grid.ema", torch.zeros(1, 2, 2)),
    "planes-wrong-shape": _set("encoding.planes", torch.zeros(3, 2, 4, 4)),
}


def assert_one_line_refusal(path):
    with pytest.raises(CheckpointError) as info:
        build(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message, message


@pytest.mark.parametrize("case", sorted(HEADER_CASES))
def test_a_crafted_header_is_refused_in_one_line(originals, tmp_path, case):
    kind, edit = HEADER_CASES[case]
    assert_one_line_refusal(craft(originals[kind], tmp_path / "bad.safetensors", header=edit))


@pytest.mark.parametrize("case", sorted(TENSOR_CASES))
def test_crafted_nerf_tensors_are_refused_in_one_line(originals, tmp_path, case):
    path = craft(originals["nerf"], tmp_path / "bad.safetensors", tensors=TENSOR_CASES[case])
    with pytest.raises(CheckpointError) as info:
        build(path)
    assert "\n" not in str(info.value)


def test_the_originals_still_load(originals):
    assert isinstance(build(originals["teacher"]), PromptModel)
    assert isinstance(build(originals["nerf"]), NerfScene)


def test_a_size_bomb_is_refused_before_it_allocates(originals, tmp_path):
    """A small file (its 64^3 occupancy grid is most of it) asking for a 5.4 GB tri-plane, opened under an address-space limit of 1.5 GB
    more than the process already maps: refused by the check, not by the allocator."""
    bomb = craft(originals["nerf"], tmp_path / "bomb.safetensors", header=put("config.field.plane_res", 15000))
    assert bomb.stat().st_size < 2 << 20
    child = textwrap.dedent(
        """
        import resource, sys
        from hfcli import checkpoint as ck
        from hfcli.errors import CheckpointError
        from hfcli.model import scene_from_nerf
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + (3 << 29), resource.RLIM_INFINITY))
        try:
            scene_from_nerf(ck.load(sys.argv[1]))
        except CheckpointError as err:
            print("refused:", err)
        """
    )
    out = subprocess.run([sys.executable, "-c", child, str(bomb)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("refused:") and "GiB" in out.stdout, out.stdout


def test_a_directory_or_fifo_given_as_a_model_is_named_for_what_it_is(tmp_path, capsys):
    """Item 9: not 'no such checkpoint' (and a FIFO is never opened: that would block)."""
    directory = tmp_path / "model.safetensors"
    directory.mkdir()
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    with pytest.raises(CheckpointError, match="is a directory"):
        ck.read_header(directory)
    with pytest.raises(CheckpointError, match="not a regular file"):
        ck.read_header(fifo)
    assert run(["export", str(fifo), "--out", str(tmp_path / "x.glb")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "not a regular file" in err and "\n" not in err


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 40), 1 << 40) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
PATHS = st.sampled_from(
    [
        "kind",
        "step",
        "prompts",
        "text_encoder",
        "extra",
        "config",
        "config.field",
        "config.hyper",
        "config.field.plane_res",
        "config.field.hidden",
        "config.field.n_hidden",
        "config.field.kind",
        "config.hyper.d_model",
        "config.hyper.n_heads",
        "config.hyper.n_layers",
        "config.hyper.dynamic",
        "config.hyper.max_tokens",
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(PATHS, JSON), min_size=1, max_size=3))
def test_any_header_is_loaded_or_refused_in_one_line(originals, tmp_path, monkeypatch, edits):
    """Property: whatever values a header holds, opening the model either works or raises one
    CheckpointError line; never another exception. (A small memory limit keeps it quick.)"""
    monkeypatch.setenv("HFCLI_MAX_MODEL_BYTES", str(16 << 20))

    def edit(header):
        for where, value in edits:
            try:
                put(where, value)(header)
            except (KeyError, TypeError):
                pass  # a parent replaced by an earlier edit
        return header

    path = craft(originals["teacher"], tmp_path / "h.safetensors", header=edit)
    try:
        build(path)
    except CheckpointError as err:
        assert "\n" not in str(err)
