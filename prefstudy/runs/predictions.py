"""A run's ``predictions.parquet``: every labelled item's P(preferred), and a rated subject's ties. Torch-free."""

from __future__ import annotations

import numpy as np

from prefstudy.runs.prepare import Prepared
from prefstudy.runs.rundir import RunDir


def write_predictions(
    run_dir: RunDir, prepared: Prepared, keys: np.ndarray, p: np.ndarray, p_ties: np.ndarray | None
) -> None:
    """Every labelled item's prediction, and a rated subject's ties (label None) with every rating."""
    labels = prepared.labels
    if prepared.rating is None:
        run_dir.write_predictions(labels.item_idx, keys[labels.item_idx], prepared.split, labels.preferred, p)
        return
    if p_ties is None:
        p_ties = np.zeros(0)
    item_idx = np.concatenate([labels.item_idx, prepared.ties])
    order = np.argsort(item_idx, kind="stable")
    answers = np.concatenate([labels.preferred.astype(object), np.full(len(prepared.ties), None, dtype=object)])
    run_dir.write_predictions(
        item_idx[order],
        keys[item_idx[order]],
        np.concatenate([prepared.split, prepared.tie_split])[order],
        answers[order],
        np.concatenate([p, p_ties])[order],
        rating=np.concatenate([prepared.rating, prepared.tie_rating])[order],
    )
