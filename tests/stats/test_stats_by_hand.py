"""prefstudy.stats on values worked by hand (tests/stats/test_stats_references.py
compares them with the SciPy and statsmodels calls)."""

import math

import numpy as np
import pytest

from prefstudy.stats import (
    binomial_greater,
    cohen_kappa,
    fleiss_kappa,
    holm,
    holm_adjusted,
    krippendorff_alpha_nominal,
    mcnemar_exact,
    sign_test,
    spearman_interval,
    t_interval,
    t_quantile,
    wilson,
)


def test_wilson_of_8_of_10():
    # p = .8, z = 1.959964: centre (8 + z²/2) / (10 + z²) = 0.7133, half z·sqrt(10·.8·.2 + z²/4) / (10 + z²) = 0.2325
    w = wilson(8, 10)
    assert (w.low, w.high) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))


def test_exact_binomial_and_mcnemar_by_counting():
    assert binomial_greater(14, 14, 0.5) == pytest.approx(0.5**14)  # every one of 14 right
    assert binomial_greater(9, 10, 0.5) == pytest.approx(11 / 1024)  # (C(10,9) + C(10,10)) / 2^10
    assert mcnemar_exact(1, 7).p_value == pytest.approx(2 * 9 / 256)  # 2·P(X <= 1), X ~ Bin(8, 1/2)
    assert mcnemar_exact(0, 0).p_value == 1.0


def test_holm_steps_down():
    # sorted .01 < .04 < .03?: .01·3 = .03 rejected; .03·2 = .06 stops; adjusted are monotone
    assert holm([0.01, 0.04, 0.03]) == [True, False, False]
    assert holm_adjusted([0.01, 0.04, 0.03, None]) == [
        pytest.approx(0.03),
        pytest.approx(0.06),
        pytest.approx(0.06),
        None,
    ]


def test_sign_test_and_t_interval():
    s = sign_test([1.0, 2.0, -1.0, 0.0, 3.0])  # zero dropped: 3 of 4 positive, p = 2·(1 + 4) / 16
    assert (s.n, s.positive, s.negative, s.p_value) == (4, 3, 1, pytest.approx(0.625))
    m = t_interval([1.0, 2.0, 3.0])  # mean 2, sd 1, t(.975, 2) = 4.302653: 2 ± 4.302653 / sqrt(3)
    assert (m.low, m.high) == (pytest.approx(2 - 2.484138, abs=1e-5), pytest.approx(2 + 2.484138, abs=1e-5))
    assert t_quantile(0.975, 1) == pytest.approx(math.tan(math.pi * 0.475))  # Cauchy


def test_spearman_interval_bonett_wright():
    # z = atanh(.5) = .549306, se = sqrt(1.125 / 27) = .204124: tanh(z ± 1.959964·se)
    i = spearman_interval(0.5, 30)
    assert (i.low, i.high) == (
        pytest.approx(math.tanh(0.549306 - 0.400079), abs=1e-5),
        pytest.approx(math.tanh(0.549306 + 0.400079), abs=1e-5),
    )


def test_agreement_coefficients_by_hand():
    # 4 items, 3 agree: p_o = .75; preferred .5 and .25: p_e = .5·.25 + .5·.75 = .5; kappa = (.75 - .5) / .5
    assert cohen_kappa(np.array([1, 1, 0, 0.0]), np.array([1, 0, 0, 0.0])) == pytest.approx(0.5)
    # 6 items, 5 agree: p_o = 5/6; preferred 4/6 and 3/6: p_e = .5; kappa = (5/6 - .5) / .5 = 2/3; NaN pairs dropped
    a, b = np.array([1, 0, 1, 0, 1, 1, np.nan]), np.array([1, 0, 0, 0, 1, 1, 1.0])
    assert cohen_kappa(a, b) == pytest.approx(2 / 3)
    # perfect agreement of 3 raters on 2 items each way: Fleiss' kappa 1
    assert fleiss_kappa(np.array([[3, 0], [0, 3], [3, 0], [0, 3]])) == pytest.approx(1.0)
    # two raters disagreeing on all 4 items, 4 values of each category: D_o = 1, D_e = 2·4·4 / (8·7) = 4/7
    answers = np.array([[1, 0, 1, 0.0], [0, 1, 0, 1.0]])
    assert krippendorff_alpha_nominal(answers) == pytest.approx(1 - 7 / 4)
