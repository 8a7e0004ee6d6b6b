"""Training settings shared by `prefstudy run` and study files: the one place their defaults live."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefstudy.bounds import COUNT, FOLD, FOLDS, OPEN_FRACTION, POSITIVE, SEED, TRAIN_SIZE, Bound, check_fields
from prefstudy.errors import PrefstudyError

ONECYCLE, PAPER = "onecycle", "paper"
SCHEDULES = (ONECYCLE, PAPER)
"""How the learning rate moves and how long a fit lasts (see :mod:`prefstudy.engine.schedule`)."""
SCHEDULE_DEFAULTS: dict[str, dict[str, Any]] = {
    ONECYCLE: {"batch_size": 128, "lr": 2e-3, "budget": 40_000, "patience": 3},
    PAPER: {"batch_size": 128, "lr": 1e-3, "budget": None, "patience": None},
}
"""What a schedule sets when it is not given: each schedule's tuned batch size and learning rate. The one
place these defaults live: :class:`TrainSettings` takes onecycle's."""
_ONECYCLE = SCHEDULE_DEFAULTS[ONECYCLE]

PROTOCOLS = ("model1", "model2")
"""model1 = train/test; model2 = train/validation/test, validation picks the epoch (the paper's two models)."""
TRANSFER_MODES = ("finetune", "frozen", "zero-shot")
"""finetune = new head, every parameter trained; frozen = only the new head; zero-shot = no training."""
ADAPT_MODES = ("keep-size", "resize", "conv")
"""How target images meet the source model's input (see :mod:`prefstudy.engine.surgery`)."""
DEFAULT_TRANSFER_MODE = "finetune"
DEFAULT_ADAPT = "keep-size"
FP32, BF16 = "fp32", "bf16"
SPLIT_BY_SUBJECT, SPLIT_BY_ITEM = "subject", "item"
SPLIT_BY = (SPLIT_BY_SUBJECT, SPLIT_BY_ITEM)
"""subject = each subject's labelled items split on their own (stratified by answer; an official split
kept); item = one seeded split of the dataset's items that every subject shares, so a population
model's training items are never another subject's test items."""
LINEAR, LOGISTIC, MLP = "linear", "logistic", "mlp"
HEADS = (LINEAR, LOGISTIC, MLP)
"""Heads on an extractor's features (see :mod:`prefstudy.engine.heads`): with one, ``backbone`` names the extractor."""
ANSWERS, RATINGS = "answers", "ratings"
TARGETS = (ANSWERS, RATINGS)
"""What a head learns: the subject's answers, or (a rated subject's) ratings."""
PRECISIONS = ("auto", FP32, BF16)
"""How a run computes (see :mod:`prefstudy.engine.precision`): not part of what it learns, so not a setting."""


def check_transfer(mode: str, adapt: str) -> None:
    """Refuse an unknown transfer mode or input adaptation (see :mod:`prefstudy.engine.surgery`)."""
    if mode not in TRANSFER_MODES:
        raise PrefstudyError(f"unknown transfer mode {mode!r}; use one of: {', '.join(TRANSFER_MODES)}")
    if adapt not in ADAPT_MODES:
        raise PrefstudyError(f"unknown input adaptation {adapt!r}; use one of: {', '.join(ADAPT_MODES)}")


@dataclass(frozen=True)
class TransferRequest:
    """Start from run ``source_run``; ``mode`` and ``adapt`` as in :mod:`prefstudy.engine.surgery`."""

    source_run: str
    mode: str = DEFAULT_TRANSFER_MODE
    adapt: str = DEFAULT_ADAPT

    def __post_init__(self) -> None:
        check_transfer(self.mode, self.adapt)


def transfer_of(config: dict) -> TransferRequest | None:
    """The transfer a run was made with, from its recorded config."""
    recorded = config.get("transfer")
    if recorded is None:
        return None
    return TransferRequest(recorded["source_run"], recorded["mode"], recorded["adapt"])


@dataclass(frozen=True)
class TrainSettings:
    """How one per-subject model is trained and evaluated."""

    backbone: str = "paper-vgg"
    protocol: str = "model2"
    epochs: int = 10
    seed: int = 0
    batch_size: int = _ONECYCLE["batch_size"]
    lr: float = _ONECYCLE["lr"]
    # How the learning rate moves and how long training lasts (see prefstudy.engine.schedule): onecycle's
    # length is epochs or budget training images, whichever is fewer, and model2 stops once
    # validation has not improved for patience epochs; paper = constant lr, exactly epochs epochs.
    schedule: str = ONECYCLE
    budget: int | None = _ONECYCLE["budget"]
    patience: int | None = _ONECYCLE["patience"]
    # Used for items without an official split (LFW, folders, unlisted Indoor-67 images).
    test_fraction: float = 0.2
    # Share of the training items held out for validation under model2; 1/6 turns Fashion-MNIST's
    # official 60k train split into the paper's 50k/10k.
    validation_fraction: float = 1 / 6
    # Train on a seeded, stratified N of the training items only (validation and test unchanged),
    # to measure what a number of labels buys, e.g. with and without transfer.
    train_size: int | None = None
    # A local weights file for the backbone (never downloaded).
    weights: str | None = None
    # How items are split (see SPLIT_BY); under "item", ``folds`` K gives item-level k-fold
    # cross-validation: run ``fold`` k tests the k-th of K seeded folds of the dataset's items.
    split_by: str = SPLIT_BY_SUBJECT
    folds: int | None = None
    fold: int | None = None
    # A head on an extractor's features instead of a network trained end to end: ``backbone`` then names the
    # extractor (face, imagenet-lite0, run:RUN_ID), and the epochs, schedule and batch settings play no part.
    head: str | None = None
    target: str = ANSWERS

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise PrefstudyError(f"unknown protocol {self.protocol!r}; use one of: {', '.join(PROTOCOLS)}")
        check_fields(self, _BOUNDS, optional=frozenset({"train_size", "folds", "fold", "budget", "patience"}))
        if self.schedule not in SCHEDULES:
            raise PrefstudyError(f"unknown schedule {self.schedule!r}; use one of: {', '.join(SCHEDULES)}")
        if self.schedule == PAPER and (self.budget is not None or self.patience is not None):
            raise PrefstudyError("the paper schedule trains exactly its epochs: it takes no budget or patience")
        if self.split_by not in SPLIT_BY:
            raise PrefstudyError(f"unknown split {self.split_by!r}; use one of: {', '.join(SPLIT_BY)}")
        if self.folds is not None and self.split_by != SPLIT_BY_ITEM:
            raise PrefstudyError("folds go with split_by = item (--split-by item)")
        if self.fold is not None and (self.folds is None or self.fold >= self.folds):
            raise PrefstudyError(f"fold {self.fold} needs folds greater than it")
        if self.head is not None and self.head not in HEADS:
            raise PrefstudyError(f"unknown head {self.head!r}; use one of: {', '.join(HEADS)}")
        if self.target not in TARGETS:
            raise PrefstudyError(f"unknown target {self.target!r}; use one of: {', '.join(TARGETS)}")
        if self.target == RATINGS and self.head not in (LINEAR, MLP):
            raise PrefstudyError("--target ratings goes with --head linear or mlp (a regression on the ratings)")
        for name in ("backbone", "weights"):
            value = getattr(self, name)
            if not (isinstance(value, str) and value.strip()) and (value is not None or name == "backbone"):
                raise PrefstudyError(f"{name} must be a non-empty string, got {value!r}")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> TrainSettings:
        """A copy with the given fields changed; ``None`` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def per_fold(self) -> list[TrainSettings]:
        """One settings per fold when ``folds`` is given without a ``fold``; else these settings alone."""
        if self.folds is None or self.fold is not None:
            return [self]
        return [dataclasses.replace(self, fold=k) for k in range(self.folds)]

    @property
    def split_key(self) -> tuple[Any, ...]:
        """What fixes a dataset-level item split: runs with the same key test the same items."""
        return (self.split_by, self.seed, self.test_fraction, self.folds, self.fold)

    def weights_path(self) -> Path | None:
        """The local weights file, with ``~`` expanded, or None."""
        return Path(self.weights).expanduser() if self.weights else None


_BOUNDS: dict[str, Bound] = {
    "epochs": COUNT,
    "seed": SEED,
    "batch_size": COUNT,
    "lr": POSITIVE,
    "test_fraction": OPEN_FRACTION,
    "validation_fraction": OPEN_FRACTION,
    "train_size": TRAIN_SIZE,
    "budget": COUNT,
    "patience": COUNT,
    "folds": FOLDS,
    "fold": FOLD,
}


def train_settings(**given: Any) -> TrainSettings:
    """Settings from what a user gave (``None`` = not given): the schedule fills its own defaults.

    ``budget`` or ``patience`` given as 0 turn that limit off.
    """
    schedule = given.get("schedule") or ONECYCLE
    chosen = {k: v for k, v in given.items() if v is not None}
    for name, value in SCHEDULE_DEFAULTS.get(schedule, {}).items():
        chosen.setdefault(name, value)
    for name in ("budget", "patience"):
        if chosen.get(name) == 0:
            chosen[name] = None
    return TrainSettings(**chosen)


DEFAULT_SETTINGS: dict[str, Any] = {**TrainSettings().to_dict(), "schedule": PAPER, **SCHEDULE_DEFAULTS[PAPER]}
"""What a setting missing from a recorded run had: the default before the setting existed (runs from
before schedules trained the paper's way, with their own recorded epochs, batch size and rate)."""


# How a report's statistics across raters are made (`prefstudy report` options default to these).
ACCURACY_MARGIN = 0.02  # the default equivalence margin: 2 accuracy points
RHO_MARGIN = 0.05
BOOTSTRAP_B = 2000


@dataclass(frozen=True)
class Inference:
    """How a report's statistics across raters are made: equivalence margins, the bootstrap's size and seed."""

    accuracy_margin: float = ACCURACY_MARGIN
    rho_margin: float = RHO_MARGIN
    bootstrap_b: int = BOOTSTRAP_B
    seed: int = 0
