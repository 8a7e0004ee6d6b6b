"""Making a head run: a head on an extractor's cached features, fitted on the training items, predicting all.

The run is a run like any other: the same splits (:mod:`.prepare`), the same predictions, metrics,
ρ and ``result.json``; its directory holds ``head.npz`` (the head's arrays) instead of
``model.pt``. From a population run's head (``transfer``), the personal head is the population's
plus this subject's shrunk deviation (:func:`prefstudy.engine.heads.fit_deviation`). Opens no
database, and needs no torch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from prefstudy.config import RATINGS, TrainSettings
from prefstudy.engine.heads import Head, fit_deviation, fit_head, save_head
from prefstudy.errors import PrefstudyError
from prefstudy.metrics import confusion_by_split, rank_scores_by_split
from prefstudy.runs.predictions import write_predictions
from prefstudy.runs.prepare import Prepared
from prefstudy.runs.record import FINISHED, RunDir, result_object
from prefstudy.splits import TRAIN

PRECISION = "fp64"  # scikit-learn fits and predicts in float64


@dataclass
class HeadJob:
    """Everything one head run needs, in memory."""

    run_dir: RunDir
    config: dict[str, Any]
    prepared: Prepared
    features: np.ndarray  # (dataset items, dim): the extractor's vectors of every item
    keys: np.ndarray  # every item's key, by index
    settings: TrainSettings
    population: Head | None = None  # a transfer's source head: the personal head deviates from it


def execute_head(job: HeadJob) -> None:
    """Fit the head on the training items, predict every labelled item (and a rated subject's ties), write the
    run directory."""
    # Matrices of a few hundred rows: BLAS threads cost more than they give (RidgeCV on 80 x 128 measured
    # 8.7 ms on one thread, 100 ms on two threads of a busy 2-core machine).
    with threadpool_limits(1):
        _execute_head(job)


def _execute_head(job: HeadJob) -> None:
    began = time.perf_counter()
    prepared, settings = job.prepared, job.settings
    labels = prepared.labels
    X = np.asarray(job.features[labels.item_idx], dtype=np.float64)
    answers = labels.preferred.astype(np.float64)
    if settings.target == RATINGS:
        if prepared.rating is None:
            raise PrefstudyError(
                f"subject {prepared.subject!r} has no ratings on {prepared.dataset!r}; --target ratings needs a "
                "rated subject (use --target answers)"
            )
        y = prepared.rating
    else:
        y = answers
    train = prepared.split == TRAIN
    ties = np.asarray(job.features[prepared.ties], dtype=np.float64)
    X_fit, y_fit, a_fit = X[train], y[train], answers[train]
    if settings.target == RATINGS and len(ties):  # a tie has a rating to fit, though no answer to calibrate
        tied = prepared.tie_split == TRAIN
        X_fit = np.concatenate([X_fit, ties[tied]])
        y_fit = np.concatenate([y_fit, prepared.tie_rating[tied]])
        a_fit = np.concatenate([a_fit, np.full(int(tied.sum()), np.nan)])
    fitting = time.perf_counter()
    if job.population is not None:
        head = fit_deviation(job.population, X_fit, y_fit, a_fit)
    else:
        head = fit_head(settings.head, X_fit, y_fit, a_fit, settings.seed)
    predicting = time.perf_counter()
    score, p = head.score(X), head.p(X)
    ranks = {}
    if prepared.rating is not None:  # ρ ranks the head's raw score, over labelled items and ties
        ranks = rank_scores_by_split(
            np.concatenate([prepared.split, prepared.tie_split]),
            np.concatenate([prepared.rating, prepared.tie_rating]),
            np.concatenate([score, head.score(ties) if len(ties) else np.zeros(0)]),
        )
    p_ties = head.p(ties) if prepared.rating is not None and len(ties) else None
    writing = time.perf_counter()
    save_head(job.run_dir.head, head)
    write_predictions(job.run_dir, prepared, job.keys, p, p_ties)
    result = result_object(
        job.config,
        status=FINISHED,
        device="cpu",
        precision=PRECISION,
        best_epoch=None,
        duration_s=time.perf_counter() - began,
        train_images_per_s=None,
        metrics=confusion_by_split(prepared.split, labels.preferred, p),
        history=[],
        ranks=ranks,
    )
    # Where a head run's milliseconds go (the driver's recording is timed apart: `study run --json`).
    result["seconds"] = {
        "fit": predicting - fitting,
        "predict": writing - predicting,
        "write": time.perf_counter() - writing,  # head.npz, predictions.parquet (result.json follows)
    }
    job.run_dir.write_result(result)
