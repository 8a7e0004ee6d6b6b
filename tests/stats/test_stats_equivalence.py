"""TOST: statsmodels' ttost_paired, and Student's t worked by hand at df = 4."""

import math

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.weightstats import ttost_paired

from prefstudy.stats import Equivalence, tost_paired


def _t4_cdf(t: float) -> float:
    """Student's t CDF at df = 4 in closed form: 1/2 + (3/8) · u · (1 - t²/(12 (1 + t²/4))), u = t / sqrt(1 + t²/4)."""
    s = 1 + t * t / 4
    return 0.5 + 0.375 * t / math.sqrt(s) * (1 - t * t / (12 * s))


def test_two_one_sided_t_tests_by_hand():
    # d = 1..5: mean 3, se sqrt(2.5 / 5); margin 5: t = (3 + 5) / se and (3 - 5) / se.
    se = math.sqrt(0.5)
    e = tost_paired([1, 2, 3, 4, 5, math.nan], margin=5)
    assert (e.n, e.mean, e.margin, e.alpha) == (5, 3.0, 5.0, 0.05)
    assert e.p_lower == pytest.approx(1 - _t4_cdf(8 / se), rel=1e-9)  # 1.62e-4
    assert e.p_upper == pytest.approx(_t4_cdf(-2 / se), rel=1e-9)  # 0.023710
    assert (e.p_value, e.equivalent) == (pytest.approx(0.023710, abs=1e-6), True)
    narrow = tost_paired([1, 2, 3, 4, 5], margin=4)  # t = -1 / se = -1.414: p = 0.1151
    assert (narrow.p_value, narrow.equivalent) == (pytest.approx(_t4_cdf(-1 / se), rel=1e-9), False)
    assert narrow.p_value == pytest.approx(0.115100, abs=1e-6)


def test_equals_statsmodels_and_the_interval_rule():
    rng = np.random.default_rng(21)
    for _ in range(25):
        n = int(rng.integers(2, 300))
        a, b = rng.normal(0.7, 0.1, n), rng.normal(0.7, 0.1, n) + rng.normal(0, 0.02)
        margin = float(rng.uniform(0.005, 0.05))
        e = tost_paired(a - b, margin)
        p, (_, p1, _), (_, p2, _) = ttost_paired(a, b, -margin, margin)
        assert (e.p_value, e.p_lower, e.p_upper) == pytest.approx((p, p1, p2), rel=1e-9, abs=1e-300)
        # Equivalent at alpha exactly when the 1 - 2 alpha t-interval of the mean lies inside the margin.
        low, high = sps.t.interval(0.9, n - 1, (a - b).mean(), sps.sem(a - b))
        assert e.equivalent == (-margin < low and high < margin)


def test_undefined_without_two_differing_values():
    assert tost_paired([0.1], 0.2) == Equivalence(1, 0.1, 0.2, 0.05, None, None, None, False)
    assert tost_paired([0.1, 0.1, 0.1], 0.2).p_value is None and tost_paired([], 0.2).mean is None
    with pytest.raises(ValueError, match="margin"):
        tost_paired([1.0, 2.0], 0.0)
