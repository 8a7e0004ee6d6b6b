"""How well a heat map agrees with the region a subject said drove their choice.

- pointing game: the map's maximum lies inside the region (Zhang et al., 2018);
- energy: the share of the map's mass inside the region (Wang et al., Score-CAM, 2020);
- IoU: the top ``top`` share of the map's pixels against the region.

Each rate means little without its chance level (:mod:`.chance`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from prefstudy.explain.chance import DEFAULT_TOP
from prefstudy.subjects.regions import Region, pixel_bounds


def region_mask(region: Region, height: int, width: int) -> torch.Tensor:
    r0, r1, c0, c1 = pixel_bounds(region, height, width)
    mask = torch.zeros(height, width, dtype=torch.bool)
    mask[r0:r1, c0:c1] = True
    return mask


@dataclass(frozen=True)
class Agreement:
    pointing: bool
    energy: float
    iou: float
    empty: bool  # the map is zero everywhere: nothing was attributed


def agreement(heat: torch.Tensor, mask: torch.Tensor, top: float = DEFAULT_TOP) -> Agreement:
    """Agreement of one (H, W) map with one boolean region mask."""
    total = float(heat.sum())
    if total <= 0:
        return Agreement(pointing=False, energy=0.0, iou=0.0, empty=True)
    flat = heat.flatten()
    pointing = bool(mask.flatten()[int(torch.argmax(flat))])
    energy = float(heat[mask].sum()) / total
    k = max(1, round(top * flat.numel()))
    chosen = torch.zeros_like(flat, dtype=torch.bool)
    chosen[torch.topk(flat, k).indices] = True
    m = mask.flatten()
    iou = float((chosen & m).sum()) / float((chosen | m).sum())
    return Agreement(pointing, energy, iou, empty=False)
