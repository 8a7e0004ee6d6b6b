"""Before a run: the subject's usable labels, checked, and the split of their items, drawn from the seed.

Nothing here writes or trains, so `study plan` can ask whether a run could be made, and why not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prefstudy.config import TrainSettings
from prefstudy.datasets import official_splits
from prefstudy.errors import PrefstudyError
from prefstudy.splits import TEST, TRAIN, VALIDATION, assign_splits, limit_train
from prefstudy.subjects.labels import UsableLabels, usable_labels
from prefstudy.subjects.registry import require_subject
from prefstudy.workspace import Workspace

MIN_LABELS = 20
MIN_PER_ANSWER = 4


@dataclass(frozen=True)
class Prepared:
    """A subject's usable labels on a dataset and the split ('train', 'validation', 'test', 'unused') of each."""

    subject: str
    dataset: str
    labels: UsableLabels
    split: np.ndarray

    def split_sizes(self) -> dict[str, int]:
        return {name: int(np.sum(self.split == name)) for name in (TRAIN, VALIDATION, TEST)}


def _check_labels(labels: UsableLabels, subject: str, dataset: str) -> None:
    n = len(labels.item_idx)
    if n < MIN_LABELS:
        raise PrefstudyError(
            f"subject {subject!r} has {n} usable label(s) on {dataset!r}; a run needs at least {MIN_LABELS} "
            "(label more images, or import them with `prefstudy label import`)"
        )
    n_preferred = int(labels.preferred.sum())
    if n_preferred in (0, n):
        answer = "preferred" if n_preferred else "not preferred"
        raise PrefstudyError(
            f"all {n} labels of subject {subject!r} on {dataset!r} are '{answer}'; a model needs both answers"
        )
    if min(n_preferred, n - n_preferred) < MIN_PER_ANSWER:
        raise PrefstudyError(
            f"subject {subject!r} has only {min(n_preferred, n - n_preferred)} label(s) of one answer on "
            f"{dataset!r}; a run needs at least {MIN_PER_ANSWER} of each"
        )


def _check_splits(split: np.ndarray, preferred: np.ndarray, protocol: str) -> None:
    needed = (TRAIN, VALIDATION, TEST) if protocol == "model2" else (TRAIN, TEST)
    for name in needed:
        if not np.any(split == name):
            raise PrefstudyError(f"the {name} split is empty; label more images or change the split fractions")
    train_answers = preferred[split == TRAIN]
    if train_answers.all() or not train_answers.any():
        raise PrefstudyError("the training split holds one answer only; label more images of the other answer")


def prepare(ws: Workspace, subject: str, dataset: str, settings: TrainSettings) -> Prepared:
    """Check the subject's labels and draw the split, before anything is written."""
    with ws.connect():  # one connection for the reads
        require_subject(ws, subject)
        official = official_splits(ws, dataset)
        labels = usable_labels(ws, subject, dataset)
    _check_labels(labels, subject, dataset)
    split = assign_splits(
        official[labels.item_idx],
        labels.preferred,
        protocol=settings.protocol,
        seed=settings.seed,
        test_fraction=settings.test_fraction,
        validation_fraction=settings.validation_fraction,
    )
    if settings.train_size is not None:
        split = limit_train(split, labels.preferred, settings.train_size, settings.seed)
    _check_splits(split, labels.preferred, settings.protocol)
    return Prepared(subject, dataset, labels, split)
