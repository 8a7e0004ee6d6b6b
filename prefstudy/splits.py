"""Train / validation / test splits of a subject's labelled items, reproducible from a seed.

An official split (Fashion-MNIST's 60k/10k, Indoor-67's lists) is honoured when the labelled
items span both its train and test parts; other items are split at random, stratified by the
subject's answer. Under ``model2`` a stratified share of the training items becomes validation.
"""

from __future__ import annotations

import numpy as np

from prefstudy.errors import PrefstudyError

TRAIN, VALIDATION, TEST = "train", "validation", "test"
UNUSED = "unused"  # labelled training items left out by a train-size limit


def _take_share(positions: np.ndarray, preferred: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """A stratified random ``share`` of ``positions`` (by answer), as a boolean mask over ``positions``."""
    chosen = np.zeros(len(positions), dtype=bool)
    for answer in (False, True):
        group = np.flatnonzero(preferred[positions] == answer)
        k = round(share * len(group))
        chosen[rng.permutation(group)[:k]] = True
    return chosen


def assign_splits(
    official: np.ndarray,
    preferred: np.ndarray,
    *,
    protocol: str,
    seed: int,
    test_fraction: float,
    validation_fraction: float,
) -> np.ndarray:
    """The split ('train', 'validation' or 'test') of each labelled item, in the given item order."""
    n = len(preferred)
    rng = np.random.default_rng(seed)
    official = np.asarray(official, dtype=object)
    split = np.full(n, TRAIN, dtype=object)
    uses_official = {TRAIN, TEST} <= set(official[official != None])  # noqa: E711 - element-wise comparison
    if uses_official:
        split[official == TEST] = TEST
        free = np.flatnonzero((official != TRAIN) & (official != TEST))
    else:
        free = np.arange(n)
    split[free[_take_share(free, preferred, test_fraction, rng)]] = TEST
    if protocol == "model2":
        train = np.flatnonzero(split == TRAIN)
        split[train[_take_share(train, preferred, validation_fraction, rng)]] = VALIDATION
    return split


def limit_train(split: np.ndarray, preferred: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Keep a seeded, stratified ``size`` of the training items; the rest become ``unused``.

    Validation and test items are untouched, so runs with different train sizes are scored on
    the same items; and for one seed a smaller subset lies inside every larger one.
    """
    train = np.flatnonzero(split == TRAIN)
    if size > len(train):
        raise PrefstudyError(f"train size {size} is more than the {len(train)} training items; label more or lower it")
    rng = np.random.default_rng(seed)
    groups = [rng.permutation(train[preferred[train] == answer]) for answer in (True, False)]
    n_preferred = round(size * len(groups[0]) / len(train))
    if groups[0].size and groups[1].size:  # both answers, whatever the rounding
        n_preferred = min(max(n_preferred, 1), size - 1)
    keep = np.concatenate([groups[0][:n_preferred], groups[1][: size - n_preferred]])
    out = split.copy()
    out[train] = UNUSED
    out[keep] = TRAIN
    return out


def item_test_mask(n_items: int, *, seed: int, test_fraction: float, folds: int | None, fold: int | None) -> np.ndarray:
    """Which of a dataset's ``n_items`` items are test items under the dataset-level split (``--split-by item``).

    The split depends only on the dataset's size and these arguments, never on a subject's labels,
    so every subject (and the population's consensus) shares it. With ``folds`` K the items are
    dealt into K seeded folds and fold ``fold`` is the test set: over the K folds every item is
    tested once. Without, a seeded ``test_fraction`` of the items is.
    """
    order = np.random.default_rng([seed, n_items]).permutation(n_items)
    test = np.zeros(n_items, dtype=bool)
    if folds is not None:
        if fold is None:
            raise PrefstudyError("a k-fold split needs the fold it tests")
        test[order[fold::folds]] = True
    else:
        test[order[: round(test_fraction * n_items)]] = True
    return test


def assign_item_splits(
    test: np.ndarray, preferred: np.ndarray, *, protocol: str, seed: int, validation_fraction: float
) -> np.ndarray:
    """The split of each labelled item whose dataset-level test flag is ``test``; model2 draws validation from train."""
    split = np.where(np.asarray(test, dtype=bool), TEST, TRAIN).astype(object)
    if protocol == "model2":
        rng = np.random.default_rng(seed)
        train = np.flatnonzero(split == TRAIN)
        split[train[_take_share(train, preferred, validation_fraction, rng)]] = VALIDATION
    return split
