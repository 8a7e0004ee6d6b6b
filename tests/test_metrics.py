"""The paper's confusion counts, preferred being the positive class, per split."""

import math

import numpy as np
import pytest

from prefstudy.metrics import Confusion, confusion, confusion_by_split


def test_confusion_counts_and_accuracy():
    truth = np.array([1, 1, 1, 0, 0, 0, 0], dtype=bool)
    said = np.array([1, 0, 1, 1, 0, 0, 0], dtype=bool)
    c = confusion(truth, said)
    assert (c.tp, c.fp, c.fn, c.tn, c.n) == (2, 1, 1, 3, 7)
    assert c.accuracy == 5 / 7
    assert c.to_dict() == {"tp": 2, "fp": 1, "fn": 1, "tn": 3, "accuracy": 5 / 7}
    assert math.isnan(Confusion(0, 0, 0, 0).accuracy)


def test_each_split_present_is_scored_and_unused_items_are_not():
    split = np.array(["train", "train", "test", "test", "unused", "test"], dtype=object)
    truth = np.array([1, 0, 1, 0, 1, 1], dtype=bool)
    p = np.array([0.9, 0.6, 0.4, 0.1, 0.9, 0.51])
    by_split = confusion_by_split(split, truth, p)
    assert list(by_split) == ["train", "test"]
    assert by_split["train"] == Confusion(tp=1, fp=1, fn=0, tn=0)
    assert by_split["test"] == Confusion(tp=1, fp=0, fn=1, tn=1)  # 0.5 is not preferred, 0.51 is


def test_spearman_columns_equal_spearman_column_by_column():
    from prefstudy.metrics import spearman, spearman_columns

    rng = np.random.default_rng(1)
    X = rng.normal(size=(21, 4))
    X[:, 2] = 0.7  # a constant column: no ρ
    X[5, 3] = np.nan  # a column with a missing answer: no ρ
    y = rng.integers(1, 8, size=21).astype(float)  # ratings, with ties
    got = spearman_columns(X, y)
    assert got[0] == pytest.approx(spearman(X[:, 0], y)) and got[1] == pytest.approx(spearman(X[:, 1], y))
    assert np.isnan(got[2]) and np.isnan(got[3])
