"""Wilcoxon's signed-rank test: scipy.stats.wilcoxon with the conventions it states, and values counted by hand."""

import math

import numpy as np
import pytest
from scipy import stats as sps

from prefstudy.stats import EXACT_UP_TO, wilcoxon
from prefstudy.stats.signed_rank import ASYMPTOTIC, CORRECTION, EXACT, NORMAL, ZERO_METHOD

NAN = math.nan


def test_the_exact_p_counts_sign_assignments():
    # d = 1, 2, 3, -4: W+ = 6 of 10; W+ <= 4 in 7 of the 16 sign assignments ({}, 1, 2, 3, 4, 1+2, 1+3): 2 · 7/16.
    w = wilcoxon([1, 2, 3, -4])
    assert (w.n, w.positive, w.w_plus, w.p_value, w.method) == (4, 3, 6.0, pytest.approx(14 / 16), "exact")
    # W- = 9 of n = 10: 33 subsets of 1..10 sum to at most 9: 2 · 33 / 1024.
    assert wilcoxon([1, 2, 3, 4, 5, 6, 7, 8, -9, 10]).p_value == pytest.approx(66 / 1024)


def test_zeros_are_dropped_before_ranking_wilcoxons_way_not_pratts():
    d = [1, 2, 3, 4, 5, 6, 7, 8, -9, 10]
    with_zeros = wilcoxon([0, *d, 0.0, NAN])
    assert (with_zeros.n, with_zeros.zeros, with_zeros.zero_method) == (10, 2, "wilcox")
    assert (with_zeros.w_plus, with_zeros.p_value, with_zeros.method) == (46.0, pytest.approx(66 / 1024), "exact")
    # Pratt's treatment ranks the zeros too: another statistic, another p. The report uses Wilcoxon's.
    pratt = sps.wilcoxon([0, *d, 0.0], zero_method="pratt", method="asymptotic").pvalue
    assert with_zeros.p_value != pytest.approx(pratt, rel=1e-3)
    assert wilcoxon([0, 0]).p_value is None and wilcoxon([0, 0]).zeros == 2 and wilcoxon([]).n == 0


def test_ties_take_the_tie_and_continuity_corrected_normal_approximation():
    # 30 of +1 and 5 of -1: all tied at rank 18, W+ = 540; mean 35·36/4 = 315;
    # variance 35·36·71/24 - (35³ - 35)/48 = 3727.5 - 892.5 = 2835; z = (540 - 315 - 1/2) / sqrt(2835).
    w = wilcoxon([1.0] * 30 + [-1.0] * 5)
    z = (540 - 315 - 0.5) / math.sqrt(2835)
    assert (w.n, w.w_plus, w.method, w.scipy_method) == (35, 540.0, NORMAL, "asymptotic")
    assert w.p_value == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-12)
    assert w.method.startswith("normal")  # what tests/report/test_population.py reads


def test_exact_up_to_the_limit_without_ties_then_the_approximation():
    rng = np.random.default_rng(11)
    at_limit = rng.permutation(np.arange(1, EXACT_UP_TO + 1)) * rng.choice([-1, 1], EXACT_UP_TO)
    over = np.append(at_limit, EXACT_UP_TO + 1)
    small_tied = np.array([1, 1, 2, 3, -4, 5.0])
    for d, method in ((at_limit, EXACT), (over, ASYMPTOTIC), (small_tied, ASYMPTOTIC)):
        w = wilcoxon(d)
        want = sps.wilcoxon(d, zero_method=ZERO_METHOD, correction=CORRECTION, alternative="two-sided", method=method)
        assert (w.scipy_method, w.p_value) == (method, pytest.approx(want.pvalue, rel=1e-12))
        assert w.w_plus == pytest.approx(sps.rankdata(np.abs(d))[d > 0].sum())


def test_every_result_equals_the_scipy_call_it_names():
    rng = np.random.default_rng(12)
    for _ in range(40):
        d = np.round(rng.normal(0.3, 1, rng.integers(1, 90)), rng.integers(0, 3))
        w = wilcoxon(d)
        if w.n == 0:
            continue
        want = sps.wilcoxon(
            d, zero_method=w.zero_method, correction=w.correction, alternative=w.alternative, method=w.scipy_method
        )
        assert w.p_value == pytest.approx(want.pvalue, rel=1e-12)
        assert (w.n, w.zeros, w.positive) == ((d != 0).sum(), (d == 0).sum(), (d > 0).sum())
        assert (w.method == "exact") == (w.n <= EXACT_UP_TO and len(np.unique(np.abs(d[d != 0]))) == w.n)
    assert type(wilcoxon(np.array([1.0, -2.0, 3.0])).p_value) is float
