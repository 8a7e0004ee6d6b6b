"""The paper's confusion counts: preferred is the positive class."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


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
    names = ("train", "validation", "test")  # 'unused' items (a train-size limit) are not scored
    return {name: confusion(truth[split == name], predicted[split == name]) for name in names if np.any(split == name)}
