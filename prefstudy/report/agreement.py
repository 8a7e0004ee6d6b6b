"""The paper's Table 5: how often Grad-CAM agrees with what drove the subject's choice.

For each explained run and layer: correctly classified preferred and correctly classified
not-preferred test items whose label carries a region, with the pointing game, the energy and
the IoU, each beside its chance level (the mean share of the image the regions cover).
"""

from __future__ import annotations

from dataclasses import dataclass

from prefstudy.explain.agreement import chance_levels
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
    if not run_ids:
        return []
    with ws.connect() as con:
        rows = con.execute(
            """
            SELECT run_id, layer, label, count(*), avg(pointing::DOUBLE), avg(energy), avg(iou),
                   avg((region[3] - region[1]) * (region[4] - region[2])), any_value(top)
            FROM explanations
            WHERE split = 'test' AND label = predicted AND region IS NOT NULL
            GROUP BY run_id, layer, label
            ORDER BY run_id, layer, label DESC
            """
        ).fetchall()
    out = []
    for run_id, layer, label, n, pointing, energy, iou, share, top in rows:
        if run_id not in run_ids:
            continue
        chance = chance_levels(share, top)
        answer = "preferred" if label else "not_preferred"
        out.append(
            AgreementRow(
                run_id,
                layer,
                answer,
                n,
                pointing,
                energy,
                iou,
                chance["pointing_game"],
                chance["energy"],
                chance["iou"],
            )
        )
    return out
