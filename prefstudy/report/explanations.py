"""The paper's Table 5: how often a heat map (Grad-CAM, or occlusion) agrees with what drove the subject's choice.

For each explained run and layer: correctly classified preferred and correctly classified
not-preferred test items whose label carries a region, with the pointing game (a rate, with a
Wilson interval), the energy and the IoU (means, with t-intervals), each beside its chance level
(from the mean share of the image the regions cover).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from prefstudy.explain.chance import chance_levels
from prefstudy.explain.records import agreement_summaries
from prefstudy.stats import t_quantile, wilson
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class AgreementRow:
    run_id: str
    layer: str
    answer: str  # preferred or not_preferred
    n: int
    pointing_game: float
    energy: float
    iou: float
    chance_pointing: float
    chance_energy: float
    chance_iou: float
    pointing_low: float | None = None  # 95 % Wilson
    pointing_high: float | None = None
    energy_low: float | None = None  # 95 % t-interval over items
    energy_high: float | None = None
    iou_low: float | None = None
    iou_high: float | None = None
    method: str = "grad-cam"  # how the maps were made: grad-cam or occlusion


def _t_bounds(mean: float, sd: float | None, n: int) -> tuple[float | None, float | None]:
    if sd is None or n < 2:
        return None, None
    half = t_quantile(0.975, n - 1) * sd / math.sqrt(n)
    return mean - half, mean + half


def collect_agreement(ws: Workspace, run_ids: set[str]) -> list[AgreementRow]:
    """Table 5 rows for the given runs' stored explanations."""
    out = []
    for s in agreement_summaries(ws, run_ids):
        chance = chance_levels(s.region_share, s.top)
        pointing = wilson(s.pointing_hits, s.n)
        out.append(
            AgreementRow(
                s.run_id,
                s.layer,
                "preferred" if s.label else "not_preferred",
                s.n,
                s.pointing_game,
                s.energy,
                s.iou,
                chance["pointing_game"],
                chance["energy"],
                chance["iou"],
                pointing.low,
                pointing.high,
                *_t_bounds(s.energy, s.energy_sd, s.n),
                *_t_bounds(s.iou, s.iou_sd, s.n),
                s.method,
            )
        )
    return out
