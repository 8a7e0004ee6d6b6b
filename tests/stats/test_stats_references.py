"""prefstudy.stats against the SciPy, statsmodels and krippendorff calls it names, and against values worked by hand.

The functions call those libraries now; these tests, written when they were numpy re-implementations, still pin
the conventions (which call, which options, what is undefined) and the hand-worked values."""

import gc
import math

import krippendorff
import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from prefstudy.stats import (
    Interval,
    binomial_greater,
    binomial_sf,
    binomial_two_sided,
    cohen_kappa,
    fleiss_kappa,
    holm,
    holm_adjusted,
    krippendorff_alpha_nominal,
    mcnemar_exact,
    one_sample_t,
    pairwise_cohen_kappa,
    sign_test,
    spearman_interval,
    t_cdf,
    t_interval,
    t_quantile,
    wilson,
)

NAN = math.nan


def test_wilson_matches_scipy_statsmodels_and_the_formula_by_hand():
    # z = 1.959964, z² = 3.841459: centre = (16 + z²) / (2 (10 + z²)) = 0.716741,
    # half = z sqrt(z² + 4·10·0.8·0.2) / (2 (10 + z²)) = 0.226577: (0.490162, 0.943318).
    w = wilson(8, 10)
    assert (w.estimate, w.method) == (0.8, "Wilson score, 95 %")
    assert (w.low, w.high) == pytest.approx((0.490162, 0.943318), abs=1e-6)
    rng = np.random.default_rng(1)
    cases = [(0, 10), (10, 10), (1, 1), (8, 10), (50, 2513)]
    cases += [(int(k), int(n)) for n in rng.integers(1, 5000, 20) for k in rng.integers(0, n + 1, 1)]
    for k, n in cases:
        for confidence in (0.95, 0.9):
            w = wilson(k, n, confidence)
            ci = sps.binomtest(k, n).proportion_ci(confidence, method="wilson")
            assert (w.low, w.high) == pytest.approx((ci.low, ci.high), abs=1e-12)
            assert (w.low, w.high) == pytest.approx(proportion_confint(k, n, 1 - confidence, "wilson"), abs=1e-12)
    assert wilson(0, 0) == Interval(None, None, None, "Wilson score, 95 %")
    assert type(wilson(3, 7).low) is float


def test_binomial_upper_tail_and_one_sided_p_match_scipy_up_to_large_n():
    assert binomial_sf(14, 14, 0.5) == pytest.approx(0.5**14, rel=1e-14)  # all 14: 1 / 2^14
    assert binomial_sf(9, 10, 0.5) == pytest.approx(11 / 1024, rel=1e-14)  # (C(10,9) + C(10,10)) / 2^10
    assert binomial_greater(14, 14, 0.5) == pytest.approx(0.5**14, rel=1e-14)
    rng = np.random.default_rng(2)
    cases = [(14, 14, 0.5), (0, 5, 0.3), (5, 5, 0.3), (3, 10, 0.01), (49, 50, 0.99)]
    cases += [(int(rng.integers(0, n + 1)), int(n), float(rng.uniform(0.01, 0.99))) for n in rng.integers(1, 500, 30)]
    for k, n, p in cases:
        want = sps.binomtest(k, n, p, alternative="greater").pvalue
        assert binomial_greater(k, n, p) == pytest.approx(want, rel=1e-12, abs=1e-300)
    # Large n: lgamma's rounding at n log n ~ 10^6 bounds the relative error near 10^-10.
    large = [(10_100, 20_000, 0.5), (10_300, 20_000, 0.5), (9_000, 20_000, 0.5), (31_500, 100_000, 0.3)]
    for k, n, p in [*large, (1, 100_000, 1e-6)]:
        assert binomial_greater(k, n, p) == pytest.approx(sps.binom.sf(k - 1, n, p), rel=1e-9, abs=1e-300)
    assert (binomial_sf(0, 5, 0.5), binomial_sf(6, 5, 0.5), binomial_sf(1, 5, 0.0), binomial_sf(5, 5, 1.0)) == (
        1,
        0,
        0,
        1,
    )
    assert binomial_greater(0, 0, 0.5) is None


def test_binomial_two_sided_matches_scipys_binomtest_also_away_from_one_half():
    assert binomial_two_sided(2, 10) == pytest.approx(112 / 1024)  # 2 · (1 + 10 + 45) / 2^10
    # n = 3, p = 0.2: pmf 0.512, 0.384, 0.096, 0.008; those <= pmf(2) = 0.096 sum to 0.104.
    assert binomial_two_sided(2, 3, 0.2) == pytest.approx(0.104)
    for n, p in [(10, 0.5), (11, 0.5), (7, 0.2), (30, 0.37), (25, 0.9), (5, 0.0), (5, 1.0), (10, 0.3)]:
        for k in range(n + 1):
            want = sps.binomtest(k, n, p).pvalue
            assert binomial_two_sided(k, n, p) == pytest.approx(want, rel=1e-10, abs=1e-300), (k, n, p)
    for k, n, p in [(10_150, 20_000, 0.5), (9_700, 20_000, 0.5), (6_100, 20_000, 0.3)]:
        assert binomial_two_sided(k, n, p) == pytest.approx(sps.binomtest(k, n, p).pvalue, rel=1e-9)
    assert binomial_two_sided(0, 0) is None


def test_mcnemar_exact_matches_statsmodels():
    m = mcnemar_exact(1, 9)  # 2 · P(X <= 1), X ~ Bin(10, 1/2) = 2 · (1 + 10) / 1024
    assert (m.b, m.c, m.p_value) == (1, 9, pytest.approx(22 / 1024))
    for b in range(0, 25, 3):
        for c in range(0, 25, 4):
            want = mcnemar([[5, b], [c, 7]], exact=True).pvalue
            assert mcnemar_exact(b, c).p_value == pytest.approx(want, rel=1e-12)
    assert mcnemar_exact(0, 0).p_value == 1.0


def test_holm_rejects_and_adjusts_as_statsmodels_leaving_untested_p_out(monkeypatch):
    monkeypatch.setattr(gc, "collect", lambda *_: 0)  # multipletests collects garbage on every call: 0.1-0.3 s each
    # m = 4 tested: 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 -> 0.06 (monotone).
    p = [0.01, 0.04, 0.03, None, 0.005]
    assert holm_adjusted(p) == pytest.approx([0.03, 0.06, 0.06, None, 0.02])
    # 0.005 <= 0.05/4, 0.01 <= 0.05/3, then 0.03 > 0.05/2 stops.
    assert holm(p) == [True, False, False, False, True]
    rng = np.random.default_rng(3)
    for _ in range(30):
        values = rng.uniform(0, 0.2, rng.integers(1, 15)) ** 2
        values[rng.random(len(values)) < 0.2] = values[0]  # ties
        p = [None if rng.random() < 0.2 else float(v) for v in values]
        tested = [i for i, v in enumerate(p) if v is not None]
        reject, adjusted = holm(p), holm_adjusted(p)
        if tested:
            want_reject, want_adjusted, *_ = multipletests([p[i] for i in tested], 0.05, method="holm")
            assert [reject[i] for i in tested] == list(want_reject)
            assert [adjusted[i] for i in tested] == pytest.approx(list(want_adjusted), rel=1e-12)
        assert all(reject[i] is False and adjusted[i] is None for i, v in enumerate(p) if v is None)
    assert (holm([None, NAN]), holm_adjusted([None]), holm([])) == ([False, False], [None], [])


def test_sign_test_is_scipys_binomial_test_on_the_positive_differences():
    s = sign_test([1, 2, 3, -1, 0, NAN, 4, 5, 6, 7, 8])  # 8 of 9 positive: 2 · (1 + 9) / 512
    assert (s.n, s.positive, s.negative, s.p_value) == (9, 8, 1, pytest.approx(20 / 512))
    rng = np.random.default_rng(4)
    for _ in range(20):
        d = np.round(rng.normal(0.2, 1, rng.integers(1, 80)), 1)
        s = sign_test(d)
        if s.n:
            assert s.p_value == pytest.approx(sps.binomtest(s.positive, s.n).pvalue, rel=1e-12)
    assert sign_test([0, NAN]).p_value is None and sign_test([]).n == 0


def test_t_distribution_matches_scipy_and_closed_forms():
    assert t_cdf(1, 1) == pytest.approx(0.75, rel=1e-15)  # Cauchy: 1/2 + atan(1)/π
    assert t_cdf(2, 2) == pytest.approx(0.5 + 1 / math.sqrt(6), rel=1e-15)  # df 2: 1/2 + t / (2 sqrt(2 + t²))
    # Near 0 with df = 1, SciPy (Boost's stdtr) is off by 1.5e-9 from the closed form; t_cdf is SciPy's now.
    assert t_cdf(1e-8, 1) == pytest.approx(0.5 + math.atan(1e-8) / math.pi, abs=2e-9)
    assert t_cdf(1e-8, 1) == sps.t.cdf(1e-8, 1)
    assert t_quantile(0.975, 1) == pytest.approx(math.tan(0.475 * math.pi), rel=1e-12)  # 12.7062
    for df in (1, 2, 5, 30, 1000, 3.5):
        for t in (-1e6, -40, -7, -2.5, -1, -0.01, 0, 0.3, 1.96, 4, 25, 1e4):
            assert t_cdf(t, df) == pytest.approx(sps.t.cdf(t, df), rel=1e-11, abs=1e-300), (df, t)
        for q in (1e-15, 1e-8, 1e-4, 0.025, 0.3, 0.5, 0.7, 0.975, 0.9999, 1 - 1e-10):
            assert t_quantile(q, df) == pytest.approx(sps.t.ppf(q, df), rel=1e-10, abs=1e-10), (df, q)
    assert (t_quantile(0, 5), t_quantile(1, 5), t_quantile(0.5, 5)) == (-math.inf, math.inf, 0.0)
    assert math.isnan(t_quantile(NAN, 5)) and math.isnan(t_cdf(1.0, 0))


def test_t_interval_and_one_sample_t_match_scipy():
    # 1..5: mean 3, sd sqrt(2.5), se sqrt(0.5); t(0.975, 4) = 2.776445: 3 ± 1.963243.
    m = t_interval([1, 2, 3, 4, 5, NAN])
    assert (m.n, m.mean, m.sd, m.method) == (5, 3.0, pytest.approx(math.sqrt(2.5)), "Student t, 95 %")
    assert (m.low, m.high) == pytest.approx((1.036757, 4.963243), abs=1e-6)
    # t = 3 / sqrt(0.5) = 4.242641; df 4: F(t) = 1/2 + (3/8) · t/sqrt(1 + t²/4) · (1 - t²/(12 (1 + t²/4))) = 0.993382.
    t = one_sample_t([1, 2, 3, 4, 5])
    assert (t.n, t.df, t.t, t.p_value) == (5, 4, pytest.approx(4.242641), pytest.approx(0.013236, abs=1e-6))
    rng = np.random.default_rng(5)
    for n in (2, 3, 10, 40, 2513):
        x = rng.normal(0.1, 1, n)
        m, t = t_interval(x, 0.9), one_sample_t(x, mu=0.05)
        want = sps.ttest_1samp(x, 0.05)
        if n < 3:  # defined, but t(0.95, 1) = 6.3 makes it say nothing: none below three values (a convention)
            assert (m.sd, m.low, m.high) == (pytest.approx(x.std(ddof=1)), None, None)
            continue
        assert (m.low, m.high) == pytest.approx(sps.t.interval(0.9, n - 1, x.mean(), sps.sem(x)), rel=1e-12)
        assert (m.low, m.high) == pytest.approx(tuple(want.confidence_interval(0.9)), rel=1e-9)
        assert (t.t, t.p_value) == pytest.approx((want.statistic, want.pvalue), rel=1e-10)
        assert type(m.low) is float and type(t.p_value) is float
    assert t_interval([]).mean is None and t_interval([2.0]).sd is None
    assert one_sample_t([NAN]).n == 0 and one_sample_t([1.0]).t is None
    assert (one_sample_t([2.0, 2.0, 2.0]).t, one_sample_t([2.0, 2.0]).p_value) == (None, None)
    assert (t_interval([2.0, 2.0, 2.0]).low, t_interval([2.0, 2.0, 2.0]).high) == (2.0, 2.0)
    assert (t_interval([2.0, 2.0]).low, t_interval([2.0, 2.0]).high) == (None, None)


def test_spearman_interval_is_fisher_z_with_the_bonett_wright_error():
    # rho 0.5, n 28: atanh 0.549306 ± 1.959964 · sqrt(1.125 / 25) = ± 0.415771 -> tanh: (0.132747, 0.746533).
    i = spearman_interval(0.5, 28)
    assert (i.estimate, i.method) == (0.5, "Fisher z, Bonett–Wright SE, 95 %")
    assert (i.low, i.high) == pytest.approx((0.132747, 0.746533), abs=1e-6)
    for rho in (-0.9, -0.3, 0.0, 0.42, 0.97):
        for n, confidence in ((4, 0.95), (30, 0.95), (102, 0.9), (5000, 0.99)):
            half = sps.norm.ppf(0.5 + confidence / 2) * np.sqrt((1 + rho**2 / 2) / (n - 3))
            want = np.tanh(np.arctanh(rho) + np.array([-half, half]))
            i = spearman_interval(rho, n, confidence)
            assert (i.low, i.high) == pytest.approx(tuple(want), rel=1e-12, abs=1e-15)
    method = "Fisher z, Bonett–Wright SE, 95 %"
    assert spearman_interval(0.5, 3) == Interval(0.5, None, None, method)  # n < 4: no standard error
    assert spearman_interval(NAN, 50) == spearman_interval(None, 50) == Interval(None, None, None, method)
    assert spearman_interval(-1.0, 50) == Interval(-1.0, -1.0, -1.0, method)


def _crosstab(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = codes.max() + 1
    table = np.zeros((k, k))
    np.add.at(table, (codes[: len(a)], codes[len(a) :]), 1)
    return table


def test_cohen_kappa_matches_statsmodels_with_missing_answers_dropped_pairwise():
    # Agree on 3 of 4: p_o = 3/4; a says 1 half the time, b 3/4: p_e = 1/2 · 1/4 + 1/2 · 3/4 = 1/2; (3/4 - 1/2) / (1/2).
    assert cohen_kappa([0, 0, 1, 1, NAN], [0, 1, 1, 1, 0]) == pytest.approx(0.5)
    rng = np.random.default_rng(6)
    for _ in range(25):
        n, k = rng.integers(2, 60), rng.integers(2, 5)
        a, b = rng.integers(0, k, n).astype(float), rng.integers(0, k, n).astype(float)
        agree = rng.random(n) < 0.5
        b[agree] = a[agree]
        a[rng.random(n) < 0.2] = NAN
        both = ~np.isnan(a) & ~np.isnan(b)
        want = sm_cohens_kappa(_crosstab(a[both], b[both]), return_results=False) if both.sum() >= 2 else None
        got = cohen_kappa(a, b)
        assert got == (pytest.approx(want, rel=1e-12) if want is not None and np.isfinite(want) else None)
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # one category: chance agreement is certain
    assert cohen_kappa([1], [0]) is None and cohen_kappa([], []) is None
    assert type(cohen_kappa([0, 1, 1], [0, 1, 0])) is float


def test_fleiss_kappa_matches_statsmodels():
    # 3 raters: P_i = 1, 1, (1 + 4 - 3)/6 = 1/3, mean 7/9; shares 4/9, 5/9: P_e = 41/81;
    # kappa = (7/9 - 41/81) / (40/81) = 22/40.
    assert fleiss_kappa([[3, 0], [0, 3], [1, 2]]) == pytest.approx(0.55)
    rng = np.random.default_rng(7)
    for _ in range(20):
        raters, items, k = rng.integers(2, 8), rng.integers(1, 40), rng.integers(2, 5)
        table = np.stack([np.bincount(rng.integers(0, k, raters), minlength=k) for _ in range(items)])
        if table.sum(axis=0).max() < table.sum():
            assert fleiss_kappa(table) == pytest.approx(sm_fleiss_kappa(table, method="fleiss"), rel=1e-12)
    assert fleiss_kappa([[2, 0], [1, 0]]) is None  # rows with different numbers of raters
    assert fleiss_kappa([[1, 0], [0, 1]]) is None  # one rater
    assert fleiss_kappa([[3, 0], [3, 0]]) is None  # one category
    assert fleiss_kappa(np.zeros((0, 2))) is None


KRIPPENDORFF_2011 = [  # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the nominal example
    [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
    [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
]


def test_krippendorff_alpha_nominal_matches_the_package_and_the_textbook():
    assert krippendorff_alpha_nominal(KRIPPENDORFF_2011) == pytest.approx(0.743, abs=5e-4)
    # Two raters, 4 items: o_00 = 2, o_01 = o_10 = 1, o_11 = 4; n_0 = 3, n_1 = 5, n = 8:
    # alpha = 1 - (n - 1) Σ_{c≠k} o_ck / Σ_{c≠k} n_c n_k = 1 - 7 · 2 / 30 = 16/30.
    assert krippendorff_alpha_nominal([[0, 0, 1, 1], [0, 1, 1, 1]]) == pytest.approx(16 / 30)
    rng = np.random.default_rng(8)
    for _ in range(20):
        data = rng.integers(0, rng.integers(2, 5), (rng.integers(2, 7), rng.integers(2, 40))).astype(float)
        data[rng.random(data.shape) < 0.3] = NAN
        present = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
        if len(np.unique(present[~np.isnan(present)])) >= 2:
            want = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
            assert krippendorff_alpha_nominal(data) == pytest.approx(want, rel=1e-12)
    assert krippendorff_alpha_nominal([[1, 2, 3]]) is None  # one rater: nothing pairable
    assert krippendorff_alpha_nominal([[1, 1], [1, 1]]) is None  # one category
    assert krippendorff_alpha_nominal([[1, NAN], [NAN, 2]]) is None


def test_pairwise_cohen_kappa_equals_cohen_kappa_on_every_pair():
    rng = np.random.default_rng(9)
    answers = (rng.random((30, 60)) < rng.uniform(0.2, 0.8, (30, 1))).astype(np.float32)
    answers[rng.random(answers.shape) < 0.3] = np.nan
    answers[[3, 5]] = 1.0  # two subjects who prefer everything: kappa 0 with others, undefined between them
    answers[4, 10:] = np.nan  # a subject with too few answers for the default min_shared
    for min_shared in (2, 10):
        pairs = pairwise_cohen_kappa(answers, min_shared=min_shared)
        for i in range(30):
            for j in range(30):
                shared = int((~np.isnan(answers[i]) & ~np.isnan(answers[j])).sum())
                assert pairs.shared[i, j] == shared
                want = cohen_kappa(answers[i], answers[j]) if i != j and shared >= min_shared else None
                if want is None:
                    assert np.isnan(pairs.kappa[i, j])
                else:  # statsmodels forms kappa from shares, the matrix from counts: equal to rounding
                    assert pairs.kappa[i, j] == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert np.isnan(pairs.kappa[4]).all() and np.isnan(pairs.kappa[3, 5]) and pairs.kappa[3, 0] == 0
    with pytest.raises(ValueError):
        pairwise_cohen_kappa(np.array([[0.0, 0.5], [1.0, 1.0]]))


def test_pairwise_cohen_kappa_equals_scikit_learns_cohen_kappa_score():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(13)
    answers = (rng.random((12, 80)) < rng.uniform(0.2, 0.8, (12, 1))).astype(float)
    answers[rng.random(answers.shape) < 0.25] = NAN
    pairs = pairwise_cohen_kappa(answers)
    for i, j in [(0, 1), (2, 7), (11, 4), (5, 9), (3, 10)]:
        both = ~np.isnan(answers[i]) & ~np.isnan(answers[j])
        want = cohen_kappa_score(answers[i, both], answers[j, both])
        assert pairs.kappa[i, j] == pytest.approx(want, rel=1e-12) and pairs.kappa[j, i] == pairs.kappa[i, j]
        assert cohen_kappa(answers[i], answers[j]) == pytest.approx(want, rel=1e-12)


def test_pairwise_cohen_kappa_scales_to_the_study_size():
    rng = np.random.default_rng(10)
    answers = (rng.random((2513, 102)) < 0.5).astype(np.float32)
    answers[rng.random(answers.shape) < 0.4] = np.nan
    pairs = pairwise_cohen_kappa(answers)
    assert pairs.kappa.shape == (2513, 2513) and pairs.kappa.dtype == np.float64
    for i, j in rng.integers(0, 2513, (20, 2)):
        if i != j:
            assert pairs.kappa[i, j] == pytest.approx(cohen_kappa(answers[i], answers[j]), rel=1e-12)


def test_numpy_scalars_in_give_python_numbers_out():
    i, f = np.int64, np.float64
    values = [
        wilson(i(3), i(7)).low,
        binomial_sf(i(3), i(7), f(0.4)),
        binomial_two_sided(i(3), i(7), f(0.4)),
        mcnemar_exact(i(2), i(9)).p_value,
        holm_adjusted([f(0.01), f(0.2)])[1],
        spearman_interval(f(0.3), i(40)).low,
        t_cdf(f(1.5), i(4)),
        t_quantile(f(0.9), i(4)),
        one_sample_t(np.array([1.0, 2.0, 4.0]), mu=f(1)).p_value,
        krippendorff_alpha_nominal([[0, 1, 1], [0, 1, 0]]),
        fleiss_kappa(np.array([[2, 1], [0, 3]])),
    ]
    assert all(type(v) is float for v in values), [type(v) for v in values]


def test_wilcoxon_rows_equal_the_one_by_one_test_with_its_conventions():
    from prefstudy.stats import wilcoxon, wilcoxon_p_rows

    rng = np.random.default_rng(0)
    rows = rng.normal(0.05, 0.1, size=(40, 5))
    rows[3, 1] = 0.0  # a zero: dropped, Wilcoxon's way (one by one)
    rows[4, :2] = 0.2  # tied sizes: the normal approximation (one by one)
    rows[5, 2] = np.nan  # an undefined fold
    got = wilcoxon_p_rows(rows)
    for row, p in zip(rows, got, strict=True):
        assert p == pytest.approx(wilcoxon(row).p_value, rel=1e-12)
    assert wilcoxon_p_rows(np.zeros((0, 5))).shape == (0,)
