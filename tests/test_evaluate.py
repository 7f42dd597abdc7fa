"""hf eval on the bigger world: the retrieval baseline keeps a prompt's finish, and the report
groups prompts by what the model never saw of them."""

from hfcli import checkpoint as ck
from hfcli.evaluate import SURFACE_KEYS, evaluate_model, nearest_training_prompt
from hfcli.model import PromptModel

TRAINING = ["a red bowl", "a blue striped bowl", "a pink striped bowl", "a red chair", "a yarn chair"]


def test_the_baseline_is_the_same_shape_in_the_same_finish_nearest_in_colour():
    # Red is nearer pink than blue; the plain red bowl is nearer still, but in another finish.
    assert nearest_training_prompt("a red striped bowl", TRAINING) == "a pink striped bowl"
    assert nearest_training_prompt("a crimson bowl", TRAINING) == "a red bowl"
    # No yarn bowl was trained: the nearest colour in any finish.
    assert nearest_training_prompt("a red yarn bowl", TRAINING) == "a red bowl"
    # No colour: the finish's own colour is the one compared.
    assert nearest_training_prompt("a yarn chair", TRAINING) == "a yarn chair"
    assert nearest_training_prompt("a red mug", TRAINING) is None


def test_eval_groups_prompts_by_what_the_model_never_saw():
    model = PromptModel.from_checkpoint(ck.load("default"))  # the world's 330 training prompts
    prompts = ["a yellow chair", "a pink chair", "a crimson chair", "a red plaid chair", "a red mug"]
    report = evaluate_model(model, prompts, with_mesh=False)
    kinds = [row["unseen"] for row in report["prompts"]]
    assert kinds == ["trained", "combination", "colour", "finish", "shape"]
    groups = report["groups"]
    assert list(groups) == kinds and all(g["prompts"] == 1 for g in groups.values())
    for row in report["prompts"]:
        assert groups[row["unseen"]]["mean"]["psnr"] == round(row["psnr"], 4)
    assert report["prompts"][3]["retrieved"] == "a red striped chair"  # no plaid trained: the same colour
    # A trained prompt is far better than one in a finish the model never saw.
    assert groups["trained"]["mean"]["psnr"] > groups["finish"]["mean"]["psnr"] + 3.0
    # No mesh, no surface figures.
    assert all(report["mean"][k] is None and report["prompts"][0][k] is None for k in SURFACE_KEYS)
    assert report["truth_surface"] is None and report["truth_surface_mean"] is None


def test_eval_measures_the_mesh_surface_against_the_truths_own_mesh():
    model = PromptModel.from_checkpoint(ck.load("default"))
    report = evaluate_model(model, ["a pink chair"], with_mesh=True)  # held out: the baseline meshes too
    row, mean = report["prompts"][0], report["mean"]
    truth = report["truth_surface"]["chair"]
    assert report["truth_surface_mean"] == truth  # one shape: its mean is itself
    for k in SURFACE_KEYS:
        assert row[k] is not None and mean[k] == row[k] and row["baseline"][k] is not None
    assert 0.5 < row["normal_consistency"] < truth["normal_consistency"] <= 1.0
    assert truth["faces_off_30"] < row["faces_off_30"] < 1.0
    assert truth["surface_distance"] < row["surface_distance"] < 0.1  # scene units
    # The ceiling: the exact SDF through the same marching cubes is nearly exact.
    assert truth["normal_consistency"] > 0.98 and truth["surface_distance"] < 0.001


def test_mesh_psnr_scores_a_mesh_against_the_exact_surface():
    """A mesh is scored against the truth's exact surface drawn as a mesh: the shape's sdf = 0
    meshed on another lattice (96³) with the studio's colours scores near 49 dB; the same 0.03
    outside, where the studio's soft volume renders put their silhouettes, or 0.02 inside, falls
    under 25 dB. Plain and patterned finishes alike."""
    from hfcli.evaluate import mesh_psnr
    from hfcli.export import extract_mesh
    from hfcli.studio.shapes import shape_sdf
    from hfcli.studio.truth import GroundTruth, scene_query

    truth = GroundTruth(["a red pot", "a yarn bowl"])
    for i, (shape, finish) in enumerate((("pot", "plain"), ("bowl", "yarn"))):
        colour = scene_query(shape, truth.albedos[i], finish)

        def mesh(offset: float, resolution: int = 128, shape=shape, colour=colour):
            return extract_mesh(
                lambda p: offset - shape_sdf(shape, p)[0],
                lambda p: colour(p)[1],
                threshold=0.0,
                resolution=resolution,
                fill_cavities=False,
            )

        assert mesh_psnr(mesh(0.0, 96), truth, i) > 45.0
        assert mesh_psnr(mesh(0.03), truth, i) < 25.0
        assert mesh_psnr(mesh(-0.02), truth, i) < 25.0
