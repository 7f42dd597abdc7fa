"""The bundled default model: present, small, documented, its record re-measured, and above its
zero-shot floor.

The header of hfcli/weights/default.safetensors records the data split and the figures the run
measured (benchmarks/bundle_default.py). Here the file is evaluated again on the recorded
held-out split and must reproduce that record; a retrain that ships a worse model, or a record
that claims more than the file does, fails here. The floors sit below the recorded figures
(BENCHMARKS.md) by a margin for float noise across machines.
"""

from pathlib import Path

import pytest

from hfcli import checkpoint as ck
from hfcli.bundled import DEFAULT_MODEL, default_model_path
from hfcli.evaluate import evaluate_model
from hfcli.model import PromptModel

PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
HELDOUT_FLOOR_DB = 24.0  # the zero-shot bar of "The student"
OVER_RETRIEVAL_DB = 6.0
# How far a re-measurement may sit from the record. The record is the run's `hf eval` of the
# float32 student; the file holds it in float16. Rounding the weights once more by a float16
# step moved the held-out mean by 1e-4 dB and single prompts by at most 0.011 dB, and the
# backends agree within 1e-4 per pixel (under 1e-3 dB at this PSNR). Against its record (made
# at commit 4167bcc) the file measured +0.035 dB when this test was written: the code that
# measures has changed since. 0.05 dB, about 1% of the mean squared error, absorbs that, while
# another model, another split or a broken renderer moves the mean by tenths of a dB or more.
MEAN_PSNR_TOLERANCE_DB = 0.05
# Per prompt (recorded by bundles made after this test): ten times the float16 sensitivity.
PROMPT_PSNR_TOLERANCE_DB = 0.1
MEAN_SSIM_IOU_TOLERANCE = 0.002
# What this code measured of the file on 2026-12-01, before the studio grew finishes and named
# colours (BENCHMARKS.md): growing the world must leave the old split's figures where they were.
TODAY_HELDOUT = {"psnr": 34.4456, "ssim": 0.9815, "iou": 0.9879}
TODAY_BASELINE_PSNR = 22.4016


def _prompt_file(name: str) -> list[str]:
    return [p.strip() for p in (PROMPTS / name).read_text().splitlines() if p.strip() and not p.startswith("#")]


def _bundle() -> dict:
    """The record in the shipped header (read each time, so a test can swap the header)."""
    return ck.read_header(DEFAULT_MODEL)["extra"]["bundle"]


def test_the_default_model_ships_with_its_record():
    path = default_model_path()
    assert path.is_file(), f"{path} is missing: run benchmarks/bundle_default.py"
    assert path.stat().st_size < 8 * 2**20
    header = ck.read_header(DEFAULT_MODEL)
    bundle = header["extra"]["bundle"]
    assert header["kind"] == "student" and bundle["commands"]
    train, heldout = bundle["split"]["train"], bundle["split"]["heldout"]
    assert train == header["prompts"]  # the split it records is the one it was trained on
    assert train == _prompt_file("train.txt") and len(train) == 50
    assert heldout == _prompt_file("heldout.txt") and len(heldout) == 30
    assert not set(heldout) & set(header["prompts"])  # zero-shot means unseen


@pytest.fixture(scope="module")
def heldout_report():
    """The shipped file evaluated on the held-out split its header records (without meshes)."""
    prompts = ck.read_header(DEFAULT_MODEL)["extra"]["bundle"]["split"]["heldout"]
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
    per_prompt = record.get("per_prompt")  # bundles made before it was recorded lack it
    if per_prompt is not None:
        measured = {row["prompt"]: row["psnr"] for row in heldout_report["prompts"]}
        assert set(per_prompt) == set(measured)
        off = {
            p: (per_prompt[p], measured[p])
            for p in measured
            if abs(measured[p] - per_prompt[p]) > PROMPT_PSNR_TOLERANCE_DB
        }
        assert not off, f"prompts whose PSNR differs from the record (recorded, measured): {off}"


def test_the_old_split_measures_what_it_did_before_the_world_grew(heldout_report):
    for key, value in TODAY_HELDOUT.items():
        tolerance = 0.01 if key == "psnr" else 0.0005
        assert abs(heldout_report["mean"][key] - value) <= tolerance, (key, heldout_report["mean"][key])
    assert abs(heldout_report["baseline_mean"]["psnr"] - TODAY_BASELINE_PSNR) <= 0.01


def test_zero_shot_psnr_stays_above_its_floor(heldout_report):
    mean = heldout_report["mean"]["psnr"]
    assert mean >= HELDOUT_FLOOR_DB, mean


def test_zero_shot_beats_retrieval_by_the_margin(heldout_report):
    gain = heldout_report["mean"]["psnr"] - heldout_report["baseline_mean"]["psnr"]
    assert gain >= OVER_RETRIEVAL_DB, gain
