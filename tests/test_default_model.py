"""The bundled default model: present, small, documented, its record re-measured, and above its
zero-shot floors.

The header of hfcli/weights/default.safetensors records the data split and the figures the world
run measured (benchmarks/bundle_default.py). Here the file is evaluated again on the recorded
zero-shot split and must reproduce that record; a retrain that ships a worse model, or a record
that claims more than the file does, fails here. The floors sit below the recorded figures
(BENCHMARKS.md, "The student at scale") by a margin for float noise across machines.
"""

from pathlib import Path

import pytest

from hfcli import checkpoint as ck
from hfcli.bundled import DEFAULT_MODEL, default_model_path
from hfcli.cli.common import read_prompt_file
from hfcli.evaluate import evaluate_model
from hfcli.model import PromptModel

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
ZERO_SHOT_FLOOR_DB = 28.0  # the zero-shot bar of "The student at scale"
# The issue's bar is +6 dB over retrieval; the shipped model measures +5.5 (BENCHMARKS.md, "The
# student at scale", says what stands between). The floor guards against a worse retrain.
OVER_RETRIEVAL_FLOOR_DB = 5.0
MAX_BYTES = 20 * 2**20  # the bar on the bundled file
# How far a re-measurement may sit from the record. The record is the run's `hf eval` of the
# float32 student; the file holds it in float16. Rounding the weights once more by a float16
# step moved the old default's held-out mean by 1e-4 dB and single prompts by at most 0.011 dB,
# and the backends agree within 1e-4 per pixel. 0.05 dB, about 1% of the mean squared error,
# absorbs that, while another model, another split or a broken renderer moves the mean by
# tenths of a dB or more.
MEAN_PSNR_TOLERANCE_DB = 0.05
PROMPT_PSNR_TOLERANCE_DB = 0.1  # ten times the float16 sensitivity
MEAN_SSIM_IOU_TOLERANCE = 0.002


def _bundle() -> dict:
    """The record in the shipped header (read each time, so a test can swap the header)."""
    return ck.read_header(DEFAULT_MODEL)["extra"]["bundle"]


def test_the_default_model_ships_with_its_record():
    path = default_model_path()
    assert path.is_file(), f"{path} is missing: run benchmarks/bundle_default.py"
    assert path.stat().st_size <= MAX_BYTES
    header = ck.read_header(DEFAULT_MODEL)
    bundle = header["extra"]["bundle"]
    assert header["kind"] == "student" and bundle["commands"]
    train, heldout = bundle["split"]["train"], bundle["split"]["heldout"]
    assert train == header["prompts"]  # the split it records is the one it was trained on
    assert train == read_prompt_file(PROMPTS / "world" / "train.txt") and len(train) >= 300
    assert heldout == read_prompt_file(PROMPTS / "world" / "zeroshot.txt") and len(heldout) >= 100
    assert not set(heldout) & set(header["prompts"])  # zero-shot means unseen
    assert "a yarn bowl" in heldout  # the README's first example is a zero-shot prompt
    # The paper's 30 held-out colour × shape prompts stay inside the zero-shot split.
    assert set(read_prompt_file(PROMPTS / "heldout.txt")) <= set(heldout)


@pytest.fixture(scope="module")
def heldout_report():
    """The shipped file evaluated on the zero-shot split its header records (without meshes)."""
    prompts = _bundle()["split"]["heldout"]
    return evaluate_model(PromptModel.from_checkpoint(ck.load(DEFAULT_MODEL)), prompts, with_mesh=False)


def test_the_record_is_what_the_file_measures(heldout_report):
    record = _bundle()["figures"]["heldout"]
    assert record["prompts"] == len(heldout_report["prompts"])
    for key, tolerance in (
        ("psnr", MEAN_PSNR_TOLERANCE_DB),
        ("ssim", MEAN_SSIM_IOU_TOLERANCE),
        ("iou", MEAN_SSIM_IOU_TOLERANCE),
    ):
        for mean in ("mean", "baseline_mean"):
            recorded, measured = record[mean][key], heldout_report[mean][key]
            assert abs(measured - recorded) <= tolerance, f"{mean} {key}: recorded {recorded}, measured {measured}"
    measured = {row["prompt"]: row["psnr"] for row in heldout_report["prompts"]}
    assert set(record["per_prompt"]) == set(measured)
    off = {
        p: (record["per_prompt"][p], measured[p])
        for p in measured
        if abs(measured[p] - record["per_prompt"][p]) > PROMPT_PSNR_TOLERANCE_DB
    }
    assert not off, f"prompts whose PSNR differs from the record (recorded, measured): {off}"


def test_zero_shot_psnr_stays_above_its_floor(heldout_report):
    mean = heldout_report["mean"]["psnr"]
    assert mean >= ZERO_SHOT_FLOOR_DB, mean


def test_zero_shot_beats_retrieval_by_the_margin(heldout_report):
    gain = heldout_report["mean"]["psnr"] - heldout_report["baseline_mean"]["psnr"]
    assert gain >= OVER_RETRIEVAL_FLOOR_DB, gain


# "a yarn bowl" measured 26.17 dB in the record. The previous default, which had no word for
# yarn, scored 23.42 on it, also 4.1 dB over its own retrieval: the margin alone does not tell
# a model that composes yarn from one that does not, the floor does.
YARN_BOWL_FLOOR_DB = 25.5


def test_a_yarn_bowl_is_far_above_retrieval(heldout_report):
    """The README's first example: the bowl never trained with yarn, so retrieval gives a
    trained bowl in another finish; the student composes the two."""
    row = next(r for r in heldout_report["prompts"] if r["prompt"] == "a yarn bowl")
    assert row["psnr"] >= YARN_BOWL_FLOOR_DB, row
    assert row["psnr"] >= row["baseline"]["psnr"] + 3.0, row


def test_held_out_knives_and_benches_mesh_within_the_surface_bars():
    """The default's meshes of held-out prompts meet the surface bars of "Surfaces as smooth as
    the truth" at 128³ (normals ≥ 0.975, ≤ 5% of faces off by 30°, ≤ 0.008 from the true
    surface). A knife's blade and a bench's slats are what a one-voxel blur rounded (7.3% and
    5.1% off at 128³); the file records half a voxel (BENCHMARKS.md, "Less blur for a clean field")."""
    from hfcli.metrics import surface_figures
    from hfcli.outputs import scene_mesh
    from hfcli.studio.shapes import shape_sdf

    model = PromptModel.from_checkpoint(ck.load(DEFAULT_MODEL))
    for prompt, shape in (("a blue knife", "knife"), ("an orange bench", "bench")):
        scene = model.bake([prompt])[0]
        mesh = scene_mesh(scene, 128)
        got = surface_figures(mesh.vertices, mesh.faces, lambda p, s=shape: shape_sdf(s, p)[0])
        assert got["normal_consistency"] >= 0.975 and got["faces_off_30"] <= 0.05, (prompt, got)
        assert got["surface_distance"] <= 0.008, (prompt, got)
