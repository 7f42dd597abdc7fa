"""Occupancy-grid updates: a subset of scenes at a time, and the trainer's rotation over them."""

import torch

from hfcli.field import FieldConfig
from hfcli.hyper import HyperConfig, HyperNet
from hfcli.scene import new_grid
from hfcli.text import TokenStates
from hfcli.train.objectives import HyperObjective


def test_update_touches_only_the_given_scenes():
    grid = new_grid(3, 4, 0.01)
    grid.update(lambda pts, s: torch.full((len(pts),), 10.0 * (s + 1)), scenes=[0, 2])
    assert torch.equal(grid.ema[0], torch.full((4, 4, 4), 10.0))
    assert torch.equal(grid.ema[2], torch.full((4, 4, 4), 30.0))
    assert torch.equal(grid.ema[1], torch.zeros(4, 4, 4))  # untouched, still fully occupied
    assert bool(grid.occupied[1].all())


def _objective(n_prompts: int, per_step: int) -> HyperObjective:
    field = FieldConfig(plane_res=4, plane_features=2, grid_res=2, grid_features=2, hidden=4, n_hidden=1)
    hyper = HyperNet(field, HyperConfig(d_model=8, n_heads=2, head_hidden=8, n_probe=4, text_dim=4, max_tokens=3))
    tokens = TokenStates(torch.randn(n_prompts, 3, 4), torch.ones(n_prompts, 3, dtype=torch.bool))
    return HyperObjective(hyper, tokens, guidance=None, prompts_per_step=per_step)


def test_grid_updates_rotate_over_every_scene():
    objective = _objective(n_prompts=10, per_step=4)
    seen: list[int] = []
    for update in range(3):  # ceil(10 / 4) updates cover all ten
        scenes = objective.grid_scenes(update)
        assert len(scenes) == 4
        seen += scenes
    assert set(seen) == set(range(10))


def test_a_small_prompt_set_updates_every_scene_each_time():
    objective = _objective(n_prompts=3, per_step=8)
    assert objective.grid_scenes(10) == [0, 1, 2]
    objective.update_grid(10, torch.Generator().manual_seed(0))
    assert bool((objective.grid.ema > 0).all())


def test_a_reloaded_grid_keeps_unseen_scenes_occupied():
    grid = new_grid(2, 4, 0.01)
    grid.update(lambda pts, s: torch.zeros(len(pts)), scenes=[0])
    grid.ema[0, 0, 0, 0] = 5.0
    again = new_grid(2, 4, 0.01)
    again.load_state(grid.state())
    assert int(again.occupied[0].sum()) == 1
    assert bool(again.occupied[1].all())
