"""The paper's confusion counts: preferred is the positive class."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from prefstudy.splits import TEST, TRAIN, VALIDATION


@dataclass(frozen=True)
class Confusion:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.n if self.n else float("nan")

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "accuracy": self.accuracy}


def confusion(truth: np.ndarray, predicted: np.ndarray) -> Confusion:
    """Counts of (subject said, model said) over items; ``True`` means preferred."""
    truth, predicted = np.asarray(truth, dtype=bool), np.asarray(predicted, dtype=bool)
    return Confusion(
        tp=int(np.sum(truth & predicted)),
        fp=int(np.sum(~truth & predicted)),
        fn=int(np.sum(truth & ~predicted)),
        tn=int(np.sum(~truth & ~predicted)),
    )


def confusion_by_split(split: np.ndarray, truth: np.ndarray, p_preferred: np.ndarray) -> dict[str, Confusion]:
    """The confusion counts of each split present, the model saying preferred where ``p_preferred > 0.5``."""
    split = np.asarray(split, dtype=object)
    predicted = np.asarray(p_preferred) > 0.5
    names = (TRAIN, VALIDATION, TEST)  # 'unused' items (a train-size limit) are not scored
    return {name: confusion(truth[split == name], predicted[split == name]) for name in names if np.any(split == name)}


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``values``, ties given the mean of the ranks they span (``scipy.stats.rankdata``, average)."""
    from scipy.stats import rankdata

    return rankdata(np.asarray(values, dtype=np.float64), method="average")


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho (Pearson's r of average ranks, so ties count); NaN for fewer than 3 items or a constant side."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(x) < 3:
        return float("nan")
    rx, ry = average_ranks(x) - (len(x) + 1) / 2, average_ranks(y) - (len(y) + 1) / 2
    denominator = np.sqrt(np.sum(rx * rx) * np.sum(ry * ry))
    return float(np.sum(rx * ry) / denominator) if denominator > 0 else float("nan")


def spearman_columns(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each column of ``X`` (n, k) with ``y`` (n,), as :func:`spearman` gives it, ranked in one
    call: NaN for a column with a NaN, a constant column or side, or fewer than 3 rows."""
    from scipy.stats import rankdata

    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    out = np.full(X.shape[1], np.nan)
    usable = np.all(np.isfinite(X), axis=0)
    if len(y) < 3 or not usable.any():
        return out
    rx = rankdata(X[:, usable], axis=0, method="average") - (len(y) + 1) / 2
    ry = rankdata(y, method="average") - (len(y) + 1) / 2
    denominator = np.sqrt(np.sum(rx * rx, axis=0) * np.sum(ry * ry))
    with np.errstate(invalid="ignore", divide="ignore"):
        out[usable] = np.where(denominator > 0, (rx * ry[:, None]).sum(axis=0) / denominator, np.nan)
    return out


@dataclass(frozen=True)
class RankScore:
    """Spearman's rho between p(preferred) and a rated subject's ratings over one split's items, ties included."""

    spearman: float
    n_rated: int


def rank_scores_by_split(split: np.ndarray, rating: np.ndarray, p_preferred: np.ndarray) -> dict[str, RankScore]:
    """Spearman's rho per split present (ties included; 'unused' items are not scored)."""
    split = np.asarray(split, dtype=object)
    out = {}
    for name in (TRAIN, VALIDATION, TEST):
        chosen = split == name
        if np.any(chosen):
            out[name] = RankScore(
                spearman(np.asarray(p_preferred)[chosen], np.asarray(rating)[chosen]), int(chosen.sum())
            )
    return out
