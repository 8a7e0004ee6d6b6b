"""Train / validation / test splits of a subject's labelled items, reproducible from a seed.

An official split (Fashion-MNIST's 60k/10k, Indoor-67's lists) is honoured when the labelled
items span both its train and test parts; other items are split at random, stratified by the
subject's answer. Under ``model2`` a stratified share of the training items becomes validation.
"""

from __future__ import annotations

import numpy as np

TRAIN, VALIDATION, TEST = "train", "validation", "test"


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
