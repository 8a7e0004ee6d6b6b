"""The crossed bootstrap: collapsing intervals, coverage, seeds, and the same replicates drawn by indexing."""

import time

import numpy as np
import pytest

from prefstudy.stats import two_way_bootstrap


def test_no_variation_anywhere_collapses_both_intervals():
    # Every rater alike and every item alike: a always right, b always wrong; each replicate is exactly 1.
    same = two_way_bootstrap(np.ones((30, 12)), np.zeros((30, 12)), B=200)
    assert (same.estimate, same.low, same.high, same.rater_low, same.rater_high) == (1.0, 1.0, 1.0, 1.0, 1.0)
    assert (same.raters, same.items, same.replicates, same.seed, same.confidence) == (30, 12, 200, 0, 0.95)


def test_items_that_vary_widen_the_crossed_interval_not_the_rater_only_one():
    # Identical raters, items that differ a lot: a right on half the items, b on the other half and a few more.
    row_a = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0] * 3, dtype=float)
    row_b = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0] * 3, dtype=float)
    r = two_way_bootstrap(np.tile(row_a, (40, 1)), np.tile(row_b, (40, 1)), B=500, seed=3)
    assert r.estimate == pytest.approx(0.0) and (r.rater_low, r.rater_high) == (0.0, 0.0)
    assert r.low < -0.2 and r.high > 0.2  # the items, resampled, move it: sd sqrt(2/3 / 36) = 0.136
    assert r.high - r.low > 10 * (r.rater_high - r.rater_low + 1e-3)


def test_a_known_difference_is_covered_with_missing_cells():
    rng = np.random.default_rng(5)
    raters, items = 300, 60
    easy = rng.uniform(0.4, 0.9, items)
    skill = rng.normal(0, 0.05, (raters, 1))
    a = (rng.random((raters, items)) < np.clip(easy + skill + 0.1, 0, 1)).astype(float)
    b = (rng.random((raters, items)) < np.clip(easy + skill, 0, 1)).astype(float)
    untested = rng.random((raters, items)) < 0.4
    a[untested], b[untested] = np.nan, np.nan
    b[7] = np.nan  # a rater with nothing scored by both: left out
    r = two_way_bootstrap(a, b, B=1000, seed=1)
    assert r.raters == raters - 1 and r.low < 0.1 < r.high and r.low > 0
    assert r.rater_low <= r.estimate <= r.rater_high and r.low <= r.estimate <= r.high
    assert r.rater_high - r.rater_low < r.high - r.low


def test_seeded():
    rng = np.random.default_rng(6)
    a, b = (rng.random((50, 20)) < 0.7).astype(float), (rng.random((50, 20)) < 0.6).astype(float)
    assert two_way_bootstrap(a, b, B=300, seed=9) == two_way_bootstrap(a, b, B=300, seed=9)
    assert two_way_bootstrap(a, b, B=300, seed=9).low != two_way_bootstrap(a, b, B=300, seed=10).low


def test_the_weights_give_the_replicates_that_copying_the_resampled_matrix_gives():
    rng = np.random.default_rng(7)
    raters, items, replicates = 25, 15, 400
    a, b = (rng.random((raters, items)) < 0.7).astype(float), (rng.random((raters, items)) < 0.5).astype(float)
    holes = rng.random((raters, items)) < 0.3
    a[holes], b[holes] = np.nan, np.nan
    got = two_way_bootstrap(a, b, B=replicates, seed=4)

    draws = np.random.default_rng(4)  # the same stream: rater draws, then item draws, for the one block
    rater_draws = draws.integers(0, raters, (replicates, raters))
    item_draws = draws.integers(0, items, (replicates, items))
    crossed, rater_only = [], []
    for who, what in zip(rater_draws, item_draws, strict=True):
        per_rater = np.nanmean((a - b)[np.ix_(who, what)], axis=1)  # NaN for a rater none of whose items came
        crossed.append(np.nanmean(per_rater))
        rater_only.append(np.nanmean(np.nanmean(a - b, axis=1)[who]))
    assert (got.low, got.high) == pytest.approx(tuple(np.percentile(crossed, [2.5, 97.5])), rel=1e-12)
    assert (got.rater_low, got.rater_high) == pytest.approx(tuple(np.percentile(rater_only, [2.5, 97.5])), rel=1e-12)


def test_the_study_size_in_seconds():
    rng = np.random.default_rng(8)
    a = (rng.random((2000, 102)) < 0.7).astype(np.float32)
    b = (rng.random((2000, 102)) < 0.65).astype(np.float32)
    a[rng.random(a.shape) < 0.5] = np.nan
    start = time.perf_counter()
    r = two_way_bootstrap(a, b, B=2000)
    assert time.perf_counter() - start < 20  # about 1.5 s on two shared cores
    assert r.replicates == 2000 and r.low < r.estimate < r.high
