"""Before a run: the subject's usable labels, checked, and the split of their items, drawn from the seed.

Nothing here writes or trains, so `study plan` can ask whether a run could be made, and why not.
:func:`prepare` reads one subject's labels; :func:`prepare_labels` is the same check and split on
labels already read, so a plan over thousands of subjects reads them all in one query.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from prefstudy.config import SPLIT_BY_ITEM, TrainSettings
from prefstudy.datasets.catalog import official_splits
from prefstudy.errors import PrefstudyError
from prefstudy.splits import (
    TEST,
    TRAIN,
    VALIDATION,
    assign_item_splits,
    assign_splits,
    item_test_mask,
    limit_train,
)
from prefstudy.subjects.labels import Ratings, UsableLabels, ratings_of, usable_labels
from prefstudy.subjects.ratings import RatingRule, check_rated_counts, rule_of
from prefstudy.subjects.roster import require_subject
from prefstudy.workspace import Workspace

MIN_LABELS = 20
MIN_PER_ANSWER = 4


def _no_items() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Prepared:
    """A subject's usable labels on a dataset and the split ('train', 'validation', 'test', 'unused') of each.

    A rated subject also has the rating of each labelled item (``rating``), and the items whose rating
    is on their rule's cut (``ties``, with their ratings and splits): never trained on, never in a
    confusion table, but predicted and scored by rank.
    """

    subject: str
    dataset: str
    labels: UsableLabels
    split: np.ndarray
    digest: str  # what the run learns from and is scored against (see labels_digest)
    rating: np.ndarray | None = None
    ties: np.ndarray = field(default_factory=_no_items)
    tie_rating: np.ndarray = field(default_factory=_no_items)
    tie_split: np.ndarray = field(default_factory=_no_items)

    def split_sizes(self) -> dict[str, int]:
        return {name: int(np.sum(self.split == name)) for name in (TRAIN, VALIDATION, TEST)}


def labels_digest(labels: UsableLabels, ratings: Ratings | None) -> str:
    """Identifies a run's ground truth: the answers, and for a rated subject every rating, ties included
    (a changed rating that keeps its answer still changes the rank metrics)."""
    if ratings is None:
        return labels.digest
    content = labels.digest.encode() + ratings.item_idx.tobytes() + ratings.rating.tobytes()
    return hashlib.sha256(content).hexdigest()[:16]


def test_items(prepared: Prepared) -> set[int]:
    """The items a run with ``prepared`` tests on: labelled test items, and ties in the test split."""
    items = prepared.labels.item_idx[prepared.split == TEST].tolist()
    return set(items) | set(prepared.ties[prepared.tie_split == TEST].tolist())


def _check_labels(labels: UsableLabels, subject: str, dataset: str, rated: bool) -> None:
    n = len(labels.item_idx)
    n_preferred = int(labels.preferred.sum())
    if rated:
        why = check_rated_counts(n_preferred, n - n_preferred)
        if why is not None:
            raise PrefstudyError(
                f"rated subject {subject!r} has {why} on {dataset!r} (ties with the rule's cut are not answers)"
            )
        return
    if n < MIN_LABELS:
        raise PrefstudyError(
            f"subject {subject!r} has {n} usable label(s) on {dataset!r}; a run needs at least {MIN_LABELS} "
            "(label more images, or import them with `prefstudy label import`)"
        )
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


@dataclass(frozen=True)
class DatasetSplit:
    """What a split needs of the dataset: each item's official split, and the item count."""

    official: np.ndarray
    _test_masks: dict[tuple, np.ndarray] = field(default_factory=dict, compare=False, repr=False)

    def item_test(self, settings: TrainSettings) -> np.ndarray:
        """The dataset-level test flag of every item under ``settings`` (drawn once per split, for every subject)."""
        key = settings.split_key
        if key not in self._test_masks:
            self._test_masks[key] = item_test_mask(
                len(self.official),
                seed=settings.seed,
                test_fraction=settings.test_fraction,
                folds=settings.folds,
                fold=settings.fold,
            )
        return self._test_masks[key]


def prepare_labels(
    subject: str,
    dataset: str,
    labels: UsableLabels,
    settings: TrainSettings,
    items: DatasetSplit,
    ratings: Ratings | None = None,
) -> Prepared:
    """Check a subject's labels (read already) and draw their split; ``ratings`` for a rated subject."""
    _check_labels(labels, subject, dataset, rated=ratings is not None)
    if settings.split_by == SPLIT_BY_ITEM:
        test = items.item_test(settings)
        split = assign_item_splits(
            test[labels.item_idx],
            labels.preferred,
            protocol=settings.protocol,
            seed=settings.seed,
            validation_fraction=settings.validation_fraction,
        )
    else:
        split = assign_splits(
            items.official[labels.item_idx],
            labels.preferred,
            protocol=settings.protocol,
            seed=settings.seed,
            test_fraction=settings.test_fraction,
            validation_fraction=settings.validation_fraction,
        )
    if settings.train_size is not None:
        split = limit_train(split, labels.preferred, settings.train_size, settings.seed)
    _check_splits(split, labels.preferred, settings.protocol)
    if ratings is None:
        return Prepared(subject, dataset, labels, split, labels.digest)
    rating_of = dict(zip(ratings.item_idx.tolist(), ratings.rating.tolist(), strict=True))
    ties = ratings.item_idx[ratings.tie]
    return Prepared(
        subject,
        dataset,
        labels,
        split,
        labels_digest(labels, ratings),
        rating=np.array([rating_of[i] for i in labels.item_idx.tolist()], dtype=np.float64),
        ties=ties,
        tie_rating=ratings.rating[ratings.tie],
        tie_split=_tie_splits(ties, items, settings),
    )


def _tie_splits(ties: np.ndarray, items: DatasetSplit, settings: TrainSettings) -> np.ndarray:
    """Ties are tested like the items around them: by the item split, the official split, or a seeded share."""
    if settings.split_by == SPLIT_BY_ITEM:
        test = items.item_test(settings)[ties]
    else:
        official = items.official[ties]
        drawn = np.random.default_rng([settings.seed, 1]).random(len(ties)) < settings.test_fraction
        test = np.where(official == TEST, True, np.where(official == TRAIN, False, drawn))
    return np.where(test, TEST, TRAIN).astype(object)


def prepare(ws: Workspace, subject: str, dataset: str, settings: TrainSettings) -> Prepared:
    """Check the subject's labels and draw the split, before anything is written."""
    return Preparer(ws)(subject, dataset, settings)


class Preparer:
    """:func:`prepare` for the many orders of one plan: each dataset's split and each subject's labels read once.

    What it reads is what the study held when it read it, so one is made per plan, not kept.
    """

    KEPT_SUBJECTS = 8  # a caller takes a subject's orders (folds, variants) together; memory stays small

    def __init__(self, ws: Workspace):
        self.ws = ws
        self._items: dict[str, DatasetSplit] = {}
        self._labels: OrderedDict[tuple[str, str], tuple[UsableLabels, Ratings | None]] = OrderedDict()

    def __call__(self, subject: str, dataset: str, settings: TrainSettings) -> Prepared:
        key = (subject, dataset)
        if dataset not in self._items or key not in self._labels:
            with self.ws.connect():  # one connection for the reads
                if dataset not in self._items:
                    self._items[dataset] = DatasetSplit(official_splits(self.ws, dataset))
                if key not in self._labels:
                    self._labels[key] = self._read(subject, dataset)
                    if len(self._labels) > self.KEPT_SUBJECTS:
                        self._labels.popitem(last=False)
        labels, ratings = self._labels[key]
        return prepare_labels(subject, dataset, labels, settings, self._items[dataset], ratings)

    def _read(self, subject: str, dataset: str) -> tuple[UsableLabels, Ratings | None]:
        require_subject(self.ws, subject)
        labels = usable_labels(self.ws, subject, dataset)
        rule: RatingRule | None = rule_of(self.ws, subject, dataset)
        return labels, ratings_of(self.ws, subject, dataset) if rule is not None else None


def run_config(
    run_id: str,
    prepared: Prepared,
    settings: TrainSettings,
    *,
    device: str,
    precision: str,
    compile: bool = False,
    processes: int = 1,
    input_plan: dict | None = None,
    transfer: dict | None = None,
) -> dict:
    """A run's ``config.json`` (versions aside): what it is made of, as its row and result describe it.

    A driver handing the run to a worker writes it without ``input`` (the worker's model decides it)
    and with the transfer's source, mode and adapt; the worker completes both.
    """
    return {
        "run_id": run_id,
        "subject": prepared.subject,
        "dataset": prepared.dataset,
        "settings": settings.to_dict(),
        "device": device,
        "precision": precision,
        "compile": compile,
        "processes": processes,
        "input": input_plan,
        "transfer": transfer,
        "split_sizes": prepared.split_sizes(),
        "labels_digest": prepared.digest,
        "n_labels": len(prepared.labels.item_idx),
    }
