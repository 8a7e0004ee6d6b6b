"""The ``explanations`` and ``explanation_files`` tables: written by `prefstudy explain`, read by the report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from prefstudy.explain.maps import GRAD_CAM
from prefstudy.subjects.regions import Region
from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class ExplanationRow:
    """One explained item: the model's answer, the subject's, and the map's agreement with their region."""

    item_idx: int
    split: str
    label: bool  # the subject's answer
    predicted: bool  # the model's answer; the map explains it
    region: Region | None
    pointing: bool | None  # None without a region
    energy: float | None
    iou: float | None
    empty_map: bool


@dataclass(frozen=True)
class ExplanationFile:
    item_idx: int | None  # None for a contact sheet
    kind: str  # original, heatmap, overlay, sheet; crop (an occluded crop's own overlay)
    path: Path


@dataclass(frozen=True)
class Method:
    """How a run's maps at a layer were made: Grad-CAM, or occlusion with its window and stride (pixels)."""

    name: str = GRAD_CAM
    window: int | None = None
    stride: int | None = None


def _objects(values: list) -> np.ndarray:
    column = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # element-wise: numpy would turn a list of lists into a 2-D array
        column[i] = value
    return column


def write_explanations(
    ws: Workspace,
    run_id: str,
    layer: str,
    top: float,
    rows: list[ExplanationRow],
    files: list[ExplanationFile],
    method: Method | None = None,
) -> None:
    """Replace the run's explanations at ``layer`` (and their files) in one transaction, each row marked with
    its ``method`` (Grad-CAM by default)."""
    method = method or Method()
    m = len(rows)
    items = {
        "run_id": np.full(m, run_id, dtype=object),
        "layer": np.full(m, layer, dtype=object),
        "item_idx": np.array([r.item_idx for r in rows], dtype=np.int32),
        "split": np.array([r.split for r in rows], dtype=object),
        "label": np.array([r.label for r in rows], dtype=bool),
        "predicted": np.array([r.predicted for r in rows], dtype=bool),
        "region": _objects([list(r.region) if r.region else None for r in rows]),
        "pointing": _objects([r.pointing for r in rows]),
        "energy": _objects([r.energy for r in rows]),
        "iou": _objects([r.iou for r in rows]),
        "top": np.full(m, top, dtype=np.float64),
        "empty_map": np.array([r.empty_map for r in rows], dtype=bool),
        "method": np.full(m, method.name, dtype=object),
        "window_px": _objects([method.window] * m),
        "stride_px": _objects([method.stride] * m),
    }
    file_rows = {
        "run_id": np.full(len(files), run_id, dtype=object),
        "layer": np.full(len(files), layer, dtype=object),
        "item_idx": _objects([f.item_idx for f in files]),
        "kind": np.array([f.kind for f in files], dtype=object),
        "path": np.array([str(f.path) for f in files], dtype=object),
    }
    with ws.transaction() as con:
        con.execute("DELETE FROM explanations WHERE run_id = ? AND layer = ?", [run_id, layer])
        con.execute("DELETE FROM explanation_files WHERE run_id = ? AND layer = ?", [run_id, layer])
        if m:
            con.register("new_explanations", items)
            con.execute(
                "INSERT INTO explanations (run_id, layer, item_idx, split, label, predicted, region, pointing, "
                "energy, iou, top, empty_map, method, window_px, stride_px) SELECT run_id, layer, item_idx, split, "
                "label, predicted, region::DOUBLE[], pointing::BOOLEAN, energy::DOUBLE, iou::DOUBLE, top, empty_map, "
                "method, window_px::INTEGER, stride_px::INTEGER FROM new_explanations"
            )
            con.unregister("new_explanations")
        if files:
            con.register("new_files", file_rows)
            con.execute(
                "INSERT INTO explanation_files SELECT run_id, layer, item_idx::INTEGER, kind, path FROM new_files"
            )
            con.unregister("new_files")


@dataclass(frozen=True)
class AgreementSummary:
    """Mean agreement over a run's correctly classified test items of one answer that carry a region."""

    run_id: str
    layer: str
    label: bool
    n: int
    pointing_game: float
    energy: float
    iou: float
    region_share: float  # the regions' mean share of the image
    top: float
    pointing_hits: int = 0
    energy_sd: float | None = None  # across items (None for a single item)
    iou_sd: float | None = None
    method: str = GRAD_CAM  # grad-cam or occlusion


def agreement_summaries(ws: Workspace, run_ids: set[str]) -> list[AgreementSummary]:
    """Per run, layer and answer: the paper's Table 5 means, from the stored explanations."""
    if not run_ids:
        return []
    with ws.connect() as con:
        rows = con.execute(
            """
            SELECT run_id, layer, label, count(*), avg(pointing::DOUBLE), avg(energy), avg(iou),
                   avg((region[3] - region[1]) * (region[4] - region[2])), any_value(top),
                   count(*) FILTER (pointing), stddev_samp(energy), stddev_samp(iou), any_value(method)
            FROM explanations
            WHERE split = 'test' AND label = predicted AND region IS NOT NULL AND run_id IN (SELECT unnest(?))
            GROUP BY run_id, layer, label
            ORDER BY run_id, layer, label DESC
            """,
            [sorted(run_ids)],
        ).fetchall()
    return [AgreementSummary(*row) for row in rows]


def sheet_files(ws: Workspace, run_ids: set[str]) -> list[tuple[str, str, Path]]:
    """(run id, layer, path) of each contact sheet the given runs' explanations drew, by run and path."""
    if not run_ids:
        return []
    with ws.connect() as con:
        rows = con.execute(
            "SELECT run_id, layer, path FROM explanation_files WHERE kind = 'sheet' AND run_id IN (SELECT unnest(?)) "
            "ORDER BY run_id, layer, path",
            [sorted(run_ids)],
        ).fetchall()
    return [(run_id, layer, Path(path)) for run_id, layer, path in rows]
