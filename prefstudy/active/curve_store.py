"""The learning-curve tables, ``curves`` and ``curve_points``: the only module that reads or writes them.

A curve is one (subject, dataset, order, start): test accuracy against the number of labels, one point per
budget and seed. Curves are not runs: no run row, no run directory, nothing `study plan` or the report's run
groups see. Torch-free (the report reads curves).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefstudy.workspace import Workspace


@dataclass(frozen=True)
class CurvePoint:
    """One fit's test score: ``labels`` labels chosen by the curve's order, from its start, with ``seed``."""

    labels: int
    seed: int
    accuracy: float
    spearman: float | None
    n_test: int


@dataclass(frozen=True)
class StoredCurve:
    """A curve as stored: what it measured (``settings``: fitting options, budgets, test items, pool) and its points."""

    subject: str
    dataset: str
    order: str
    start: str
    seeds: int
    step: str
    settings: dict[str, Any]
    chance: float | None
    all_labels_accuracy: float | None
    labels_to_95pct: int | None
    points: list[CurvePoint] = field(default_factory=list)
    id: int | None = None
    created_at: datetime | None = None


def replace_curves(ws: Workspace, curves: list[StoredCurve]) -> list[int]:
    """Store complete curves in one transaction, each replacing the same (subject, dataset, order, start)."""
    ids = []
    with ws.transaction() as con:
        for c in curves:
            key = [c.subject, c.dataset, c.order, c.start]
            where = "subject = ? AND dataset = ? AND label_order = ? AND start = ?"
            con.execute(f"DELETE FROM curve_points WHERE curve_id IN (SELECT id FROM curves WHERE {where})", key)
            con.execute(f"DELETE FROM curves WHERE {where}", key)
            (curve_id,) = con.execute(
                "INSERT INTO curves (subject, dataset, label_order, start, seeds, step, settings, chance, "
                "all_labels_accuracy, labels_to_95pct) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                [*key, c.seeds, c.step, json.dumps(c.settings), c.chance, c.all_labels_accuracy, c.labels_to_95pct],
            ).fetchone()
            if c.points:
                con.executemany(
                    "INSERT INTO curve_points (curve_id, labels, seed, accuracy, spearman, n_test) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [[curve_id, p.labels, p.seed, p.accuracy, p.spearman, p.n_test] for p in c.points],
                )
            ids.append(int(curve_id))
    return ids


def stored_curves(ws: Workspace, dataset: str | None = None, subject: str | None = None) -> list[StoredCurve]:
    """The stored curves (optionally of one dataset and subject) with their points, by dataset, subject, id."""
    where, params = [], []
    for column, value in (("dataset", dataset), ("subject", subject)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    with ws.connect() as con:
        rows = con.execute(
            "SELECT id, subject, dataset, label_order, start, seeds, step, settings, chance, all_labels_accuracy, "
            f"labels_to_95pct, created_at FROM curves {clause} ORDER BY dataset, subject, id",
            params,
        ).fetchall()
        points = con.execute(
            "SELECT curve_id, labels, seed, accuracy, spearman, n_test FROM curve_points "
            f"WHERE curve_id IN (SELECT id FROM curves {clause}) ORDER BY curve_id, labels, seed",
            params,
        ).fetchall()
    by_curve: dict[int, list[CurvePoint]] = {}
    for curve_id, *values in points:
        by_curve.setdefault(curve_id, []).append(CurvePoint(*values))
    return [
        StoredCurve(
            subject=row[1],
            dataset=row[2],
            order=row[3],
            start=row[4],
            seeds=row[5],
            step=row[6],
            settings=json.loads(row[7]),
            chance=row[8],
            all_labels_accuracy=row[9],
            labels_to_95pct=row[10],
            points=by_curve.get(row[0], []),
            id=row[0],
            created_at=row[11],
        )
        for row in rows
    ]
