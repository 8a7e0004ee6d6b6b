import pytest
import torch

from prefstudy.explain.chance import chance_levels
from prefstudy.explain.region_scores import agreement, region_mask


def test_a_map_inside_the_region_agrees_fully():
    heat = torch.zeros(4, 4)
    heat[0, 0], heat[1, 1] = 3.0, 1.0
    mask = region_mask((0.0, 0.0, 0.5, 0.5), 4, 4)  # the top-left 2x2
    a = agreement(heat, mask, top=0.125)  # the top 2 pixels, (0, 0) and (1, 1), both inside
    assert a.pointing and a.energy == 1.0 and not a.empty
    assert a.iou == pytest.approx(2 / 4)  # the region has 4 pixels, the top share 2 of them


def test_pointing_energy_and_iou_by_hand():
    heat = torch.tensor([[4.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0]])
    mask = region_mask((0.5, 0.5, 1.0, 1.0), 4, 4)  # the bottom-right 2x2 holds 6 of the map's 10
    a = agreement(heat, mask, top=0.25)  # top 4 pixels: 4, 2, 2 and one 1 (all but the 4 inside)
    assert not a.pointing  # the peak (4.0) is top-left
    assert a.energy == pytest.approx(0.6)
    assert a.iou == pytest.approx(3 / 5)  # 3 of the top-4 inside; union 4 + 4 - 3


def test_an_empty_map_counts_as_no_agreement():
    a = agreement(torch.zeros(3, 3), region_mask((0, 0, 1, 1), 3, 3))
    assert a.empty and not a.pointing and a.energy == 0.0 and a.iou == 0.0


def test_chance_levels():
    chance = chance_levels(0.25, top=0.2)
    assert chance["pointing_game"] == chance["energy"] == 0.25
    assert chance["iou"] == pytest.approx(0.05 / (0.2 + 0.25 - 0.05))
