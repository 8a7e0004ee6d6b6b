"""Labels needed: the stored learning curves (`prefstudy curve`) summarised per dataset, order and start.

Curves are not runs: they come from their own tables and never enter the run groups. Across subjects, starts
are grouped by kind (scratch, transfer, population): a transfer start is usually each subject's own run.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase

from prefstudy.active.curve_plan import curve_points
from prefstudy.active.curve_store import StoredCurve, stored_curves
from prefstudy.workspace import Workspace

FEW_SUBJECTS = 3
"""Up to this many subjects on a dataset, the figure draws each subject's curves; beyond, the mean across them."""


@dataclass(frozen=True)
class LabelsNeeded:
    """Per dataset, order and start kind: labels_to_95pct across subjects (of those reaching it)."""

    dataset: str
    order: str
    start: str
    subjects: int
    reaching: int
    median: float | None
    low: int | None
    high: int | None
    all_labels_accuracy: float | None  # the mean over subjects
    chance: float | None  # the median over subjects


def start_kind(start: str) -> str:
    return start.partition(":")[0]


def collect_curves(ws: Workspace, subjects: str | None = None, dataset: str | None = None) -> list[StoredCurve]:
    """The stored curves of the subjects matching the glob ``subjects``, on ``dataset``."""
    return [c for c in stored_curves(ws, dataset=dataset) if subjects is None or fnmatchcase(c.subject, subjects)]


def summarize_curves(curves: list[StoredCurve]) -> list[LabelsNeeded]:
    groups: dict[tuple[str, str, str], list[StoredCurve]] = {}
    for c in curves:
        groups.setdefault((c.dataset, c.order, start_kind(c.start)), []).append(c)
    out = []
    for (dataset, order, start), found in sorted(groups.items()):
        reach = [c.labels_to_95pct for c in found if c.labels_to_95pct is not None]
        accuracy = [c.all_labels_accuracy for c in found if c.all_labels_accuracy is not None]
        chance = [c.chance for c in found if c.chance is not None]
        out.append(
            LabelsNeeded(
                dataset=dataset,
                order=order,
                start=start,
                subjects=len({c.subject for c in found}),
                reaching=len(reach),
                median=statistics.median(reach) if reach else None,
                low=min(reach) if reach else None,
                high=max(reach) if reach else None,
                all_labels_accuracy=statistics.fmean(accuracy) if accuracy else None,
                chance=statistics.median(chance) if chance else None,
            )
        )
    return out


def curve_dict(c: StoredCurve) -> dict:
    """A stored curve for the report's JSON: what it measured, its points (mean and sd over seeds per budget)."""
    return {
        "subject": c.subject,
        "dataset": c.dataset,
        "order": c.order,
        "start": c.start,
        "seeds": c.seeds,
        "step": c.step,
        "test_items": c.settings.get("test_items"),
        "pool": c.settings.get("pool"),
        "chance": c.chance,
        "all_labels_accuracy": c.all_labels_accuracy,
        "labels_to_95pct": c.labels_to_95pct,
        "points": curve_points(c),
    }


def summary_dicts(summary: list[LabelsNeeded]) -> list[dict]:
    return [asdict(s) for s in summary]


def plotted_curves(curves: list[StoredCurve]) -> dict[str, list[dict]]:
    """dataset -> the lines to draw: each subject's curves (order × start) when few, else the mean across subjects
    per order × start kind, the band then the sd across subjects."""
    by_dataset: dict[str, list[StoredCurve]] = {}
    for c in curves:
        by_dataset.setdefault(c.dataset, []).append(c)
    out = {}
    for dataset, found in by_dataset.items():
        subjects = {c.subject for c in found}
        if len(subjects) <= FEW_SUBJECTS:
            out[dataset] = [
                {
                    "label": f"{c.order} × {start_kind(c.start)}" + (f" ({c.subject})" if len(subjects) > 1 else ""),
                    "points": [(p["labels"], p["accuracy"], p["sd"]) for p in curve_points(c)],
                }
                for c in found
            ]
            continue
        groups: dict[tuple[str, str], dict[int, list[float]]] = {}
        for c in found:
            line = groups.setdefault((c.order, start_kind(c.start)), {})
            for p in curve_points(c):
                line.setdefault(p["labels"], []).append(p["accuracy"])
        out[dataset] = [
            {
                "label": f"{order} × {start} (mean of {len(subjects)} subjects)",
                "points": [
                    (n, statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else None)
                    for n, v in sorted(line.items())
                ],
            }
            for (order, start), line in groups.items()
        ]
    return out
