"""The paper's Table 5: how often Grad-CAM agrees with what drove the subject's choice.

For each explained run and layer: correctly classified preferred and correctly classified
not-preferred test items whose label carries a region, with the pointing game, the energy and
the IoU, each beside its chance level (the mean share of the image the regions cover).
"""

from __future__ import annotations

from dataclasses import dataclass

from prefstudy.explain.chance import chance_levels
from prefstudy.explain.records import agreement_summaries
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


def collect_agreement(ws: Workspace, run_ids: set[str]) -> list[AgreementRow]:
    """Table 5 rows for the given runs' stored explanations."""
    out = []
    for s in agreement_summaries(ws, run_ids):
        chance = chance_levels(s.region_share, s.top)
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
            )
        )
    return out
