"""Minimum detectable effects: statsmodels' TTestPower, and exact binomial power worked by hand."""

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.power import TTestPower

from prefstudy.stats import minimum_detectable_accuracy, minimum_detectable_effect, minimum_detectable_mcnemar


def test_t_test_effect_is_statsmodels_cohens_d_times_the_sd_and_has_the_power():
    for n, sd in ((3, 0.1), (30, 2.0), (2513, 0.05)):
        e = minimum_detectable_effect(n, sd)
        d = TTestPower().solve_power(effect_size=None, nobs=n, alpha=0.05, power=0.8, alternative="two-sided")
        assert (e.effect, e.n, e.alpha, e.power) == (pytest.approx(float(d) * sd, rel=1e-12), n, 0.05, 0.8)
        # Independently: noncentral t (noncentrality d sqrt(n)) beyond the two-sided critical t 80 % of the time.
        crit, nc = sps.t.ppf(0.975, n - 1), e.effect / sd * np.sqrt(n)
        assert sps.nct.sf(crit, n - 1, nc) + sps.nct.cdf(-crit, n - 1, nc) == pytest.approx(0.8, abs=1e-5)
    assert minimum_detectable_effect(30, 1.0).effect == pytest.approx(0.5292, abs=1e-4)  # d = 0.5292 at n = 30, sd 1
    assert minimum_detectable_effect(1, 1.0).effect is None and minimum_detectable_effect(10, None).effect is None


def test_binomial_accuracy_by_counting():
    # n = 5 at chance 1/2: only 5 of 5 is significant (1/32); P(5 of 5 | p) = p^5 = 0.8.
    assert minimum_detectable_accuracy(5, 0.5).effect == pytest.approx(0.8 ** (1 / 5), rel=1e-12)
    # n = 14: P(X >= 11) = 470/16384 = 0.029 <= 0.05 < P(X >= 10) = 1471/16384; the accuracy where P(X >= 11) = 0.8.
    e = minimum_detectable_accuracy(14, 0.5)
    assert sps.binom.sf(10, 14, e.effect) == pytest.approx(0.8, rel=1e-10)
    assert sps.binomtest(11, 14, 0.5, alternative="greater").pvalue == pytest.approx(470 / 16384)
    assert minimum_detectable_accuracy(3, 0.5).effect is None  # 3 of 3 is p = 1/8
    assert minimum_detectable_accuracy(102, 0.25, power=0.9).effect == pytest.approx(
        sps.beta.ppf(0.9, 34, 102 - 34 + 1), rel=1e-12
    )  # critical count 34 at chance 1/4: P(X >= 34) = 0.0366 <= 0.05 < P(X >= 33) = 0.0576
    assert sps.binom.sf(33, 102, 0.25) <= 0.05 < sps.binom.sf(32, 102, 0.25)


def test_mcnemar_difference_has_the_power_of_statsmodels_exact_test():
    # 6 discordant items: only 6-0 or 0-6 reach p = 2/64; q^6 + (1 - q)^6 = 0.8 at q = 0.96339.
    e = minimum_detectable_mcnemar(100, 6)
    q = (e.effect * 100 / 6 + 1) / 2
    assert q**6 + (1 - q) ** 6 == pytest.approx(0.8, rel=1e-10)
    for n_items, m in ((102, 20), (40, 40), (500, 77)):
        e = minimum_detectable_mcnemar(n_items, m)
        q = (e.effect * n_items / m + 1) / 2
        region = [b for b in range(m + 1) if mcnemar([[0, b], [m - b, 0]], exact=True).pvalue <= 0.05]
        assert sps.binom.pmf(region, m, q).sum() == pytest.approx(0.8, rel=1e-9)
    assert minimum_detectable_mcnemar(100, 5).effect is None  # 5-0 is p = 1/16
    assert minimum_detectable_mcnemar(100, 0).effect is None
    assert minimum_detectable_mcnemar(100, 6, power=0.99).effect < 6 / 100  # never more than all six one way
