"""The baselines a personal model is tested against, as predictors on the rater's own test items of one fold.

- **Training majority** (the honest chance): the commoner answer among the rater's *training* labels of
  the fold, given for every test item (a preferred answer where the training answers split evenly). A
  constant ranks nothing: it has no ρ.
- **Consensus (no model)**: the mean rating of the consensus subject's *other* raters (this rater left
  out), an item's preferred answer where it is above the median over the dataset's items. It knows
  the test items' ratings, which no model of the images does: a baseline for known items.
- **Consensus + this rater's deviation**: a logistic regression of the rater's training answers on
  the consensus score (standardised, L2 penalty 1 on the slope, the intercept free: scikit-learn's
  ``LogisticRegression(C=1)``), fitted on the fold's training items, predicting its test items. It
  moves the consensus's cut to this rater's, and may reverse it for a rater who likes what others do not.

The image population model's predictions are its own run's; they come with the runs.
"""

from __future__ import annotations

import numpy as np

from prefstudy.subjects.consensus import consensus_of
from prefstudy.subjects.labels import rating_totals
from prefstudy.workspace import Workspace

NEWTON_STEPS = 25


class ConsensusScores:
    """The consensus as a score: per item, the mean rating of its raters other than the one scored."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.made: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, set[str]]] = {}
        self.deviation = DeviationFits()  # each rater's fits on it, shared by their variants

    def scores(
        self, population: str, dataset: str, subject: str, items: np.ndarray, own: np.ndarray
    ) -> tuple[np.ndarray, float] | None:
        """(others' mean rating, their median over the dataset's items) at ``items`` (``own``: this rater's
        ratings of them, NaN-free); None without a consensus of ratings."""
        key = (population, dataset)
        if key not in self.made:
            raters = consensus_of(self.ws, population, dataset) or []
            with self.ws.connect() as con:
                sums = rating_totals(con, dataset, raters)
            n_items = int(np.max(sums["item_idx"])) + 1 if len(sums["item_idx"]) else 0
            total, count = np.zeros(n_items), np.zeros(n_items)
            total[sums["item_idx"]], count[sums["item_idx"]] = sums["total"], sums["n"]
            self.made[key] = (total, count, set(raters))
        total, count, raters = self.made[key]
        if not len(count) or not len(items) or items.max() >= len(count):
            return None
        mine = subject in raters
        with np.errstate(invalid="ignore", divide="ignore"):
            everyone = total / count
            others = (total[items] - (own if mine else 0)) / (count[items] - (1 if mine else 0))
        return others, float(np.nanmedian(everyone[count > 0]))


def training_majority(train_labels: np.ndarray) -> float:
    """1.0 where the training answers' majority is preferred (or they split evenly), else 0.0."""
    answered = np.array([label is not None for label in train_labels], dtype=bool)
    preferred = int(sum(bool(label) for label in train_labels[answered]))
    return 1.0 if 2 * preferred >= int(answered.sum()) else 0.0


def logistic_on_one_score(x: np.ndarray, y: np.ndarray, penalty: float = 1.0) -> tuple[float, float, float, float]:
    """(mean, sd, intercept, slope) of an L2-penalised logistic regression of ``y`` (0/1) on standardised ``x``.

    Newton's method on two parameters: the same optimum as scikit-learn's ``LogisticRegression(C=1/penalty)``
    on the standardised score, written out because the report fits one per rater and fold (thousands), where
    building an estimator each time would cost more than the report.
    """
    mean, sd = float(np.mean(x)), float(np.std(x))
    sd = sd if sd > 0 else 1.0
    z = (x - mean) / sd
    a = b = 0.0
    for _ in range(NEWTON_STEPS):
        p = 1 / (1 + np.exp(-(a + b * z)))
        w = p * (1 - p)
        r = p - y
        ga, gb = float(r.sum()), float(r @ z) + penalty * b  # the gradient, the slope penalised
        haa, hab, hbb = float(w.sum()) + 1e-12, float(w @ z), float(w @ (z * z)) + penalty
        det = haa * hbb - hab * hab
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det  # the 2 x 2 Newton step
        a, b = a - da, b - db
        if max(abs(da), abs(db)) < 1e-10:
            break
    return mean, sd, a, b


def consensus_deviation(
    train_scores: np.ndarray, train_labels: np.ndarray, test_scores: np.ndarray
) -> np.ndarray | None:
    """P(preferred) of the test items by the rater's logistic on the consensus score, fitted on the training
    items they answered; None when fewer than two answers of each kind leave nothing to fit."""
    answered = np.array([label is not None for label in train_labels], dtype=bool) & np.isfinite(train_scores)
    y = np.array([bool(label) for label in train_labels[answered]], dtype=np.float64)
    if y.sum() < 2 or (1 - y).sum() < 2:
        return None
    mean, sd, intercept, slope = logistic_on_one_score(train_scores[answered], y)
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-(intercept + slope * (test_scores - mean) / sd)))


class DeviationFits:
    """:func:`consensus_deviation` remembered by rater, fold and training items: the personal variants of one fold
    (from scratch, transferred, other models) share the fit."""

    def __init__(self) -> None:
        self.made: dict[tuple, np.ndarray | None] = {}

    def predict(
        self, key: tuple, train_items: np.ndarray, train_scores: np.ndarray, train_labels: np.ndarray, test_scores
    ) -> np.ndarray | None:
        full = (*key, train_items.tobytes(), np.asarray(test_scores).tobytes())
        if full not in self.made:
            self.made[full] = consensus_deviation(train_scores, train_labels, test_scores)
        return self.made[full]
