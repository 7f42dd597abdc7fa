"""Occupancy-grid updates: a subset of scenes at a time, and the trainer's rotation over them."""

import torch

from hfcli.field import FieldConfig
from hfcli.hyper import HyperConfig, HyperNet
from hfcli.render.occupancy import OccupancyGrid
from hfcli.render.renderer import AABB
from hfcli.text import TokenStates
from hfcli.train.trainer import TrainConfig, Trainer


def test_update_touches_only_the_given_scenes():
    grid = OccupancyGrid(3, 4, AABB.clone(), 0.01)
    grid.update(lambda pts, s: torch.full((len(pts),), 10.0 * (s + 1)), scenes=[0, 2])
    assert torch.equal(grid.ema[0], torch.full((4, 4, 4), 10.0))
    assert torch.equal(grid.ema[2], torch.full((4, 4, 4), 30.0))
    assert torch.equal(grid.ema[1], torch.zeros(4, 4, 4))  # untouched, still fully occupied
    assert bool(grid.occupied[1].all())


def _trainer(n_prompts: int, per_step: int) -> Trainer:
    field = FieldConfig(plane_res=4, plane_features=2, grid_res=2, grid_features=2, hidden=4, n_hidden=1)
    hyper = HyperNet(field, HyperConfig(d_model=8, n_heads=2, head_hidden=8, n_probe=4, text_dim=4, max_tokens=3))
    tokens = TokenStates(torch.randn(n_prompts, 3, 4), torch.ones(n_prompts, 3, dtype=torch.bool))
    return Trainer(hyper, tokens, guidance=None, cfg=TrainConfig(prompts_per_step=per_step, grid_every=4))


def test_grid_updates_rotate_over_every_scene():
    trainer = _trainer(n_prompts=10, per_step=4)
    seen: list[int] = []
    for update in range(3):  # ceil(10 / 4) updates cover all ten
        trainer.step = update * 4
        scenes = trainer._grid_scenes()
        assert len(scenes) == 4
        seen += scenes
    assert set(seen) == set(range(10))


def test_a_small_prompt_set_updates_every_scene_each_time():
    trainer = _trainer(n_prompts=3, per_step=8)
    trainer.step = 40
    assert trainer._grid_scenes() == [0, 1, 2]
    trainer.update_grid()
    assert bool((trainer.grid.ema > 0).all())


def test_a_reloaded_grid_keeps_unseen_scenes_occupied():
    grid = OccupancyGrid(2, 4, AABB.clone(), 0.01)
    grid.update(lambda pts, s: torch.zeros(len(pts)), scenes=[0])
    grid.ema[0, 0, 0, 0] = 5.0
    again = OccupancyGrid(2, 4, AABB.clone(), 0.01)
    again.load_state(grid.state())
    assert int(again.occupied[0].sum()) == 1
    assert bool(again.occupied[1].all())
