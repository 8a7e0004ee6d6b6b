"""Exact binomial tests (one- and two-sided, McNemar's, the sign test) and the one-sample t-test.

The numbers come from ``scipy.stats.binomtest``, ``scipy.stats.ttest_1samp`` and statsmodels' ``mcnemar``; the
libraries are imported on first use. What is decided here: which values count (finite ones), and what is undefined.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from prefstudy.stats.describe import finite_values

MCNEMAR_EXACT = True  # statsmodels' mcnemar(exact=True): the binomial test of the discordant pairs at 1/2
MCNEMAR_METHOD = "McNemar exact (binomial, two-sided)"


@lru_cache(maxsize=1 << 16)  # thousands of runs' tests over a few (successes, n, chance): each computed once
def binomial_greater(successes: int, n: int, p0: float) -> float | None:
    """Exact one-sided p of a success rate above ``p0``: ``scipy.stats.binomtest(alternative="greater")``.

    That is P(X >= successes) for X ~ Binomial(n, p0); None without trials.
    """
    from scipy.stats import binomtest

    return float(binomtest(int(successes), int(n), float(p0), alternative="greater").pvalue) if n > 0 else None


def binomial_two_sided(k: int, n: int, p: float = 0.5) -> float | None:
    """Exact two-sided p: ``scipy.stats.binomtest(alternative="two-sided")``, the mass of counts no likelier than k.

    None without trials; ValueError when ``k`` of ``n`` at ``p`` is not a binomial outcome.
    """
    from scipy.stats import binomtest

    k, n, p = int(k), int(n), float(p)
    if n <= 0:
        return None
    if not 0 <= k <= n or not 0.0 <= p <= 1.0:
        raise ValueError(f"k = {k} of n = {n} at p = {p} is not a binomial outcome")
    return float(binomtest(k, n, p, alternative="two-sided").pvalue)


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test of two paired classifiers: the discordant pairs against an even split."""

    b: int  # first right, second wrong
    c: int  # first wrong, second right
    p_value: float | None
    method: str


@lru_cache(maxsize=1 << 16)  # one per rater and baseline, over few distinct discordant counts
def mcnemar_exact(b: int, c: int) -> McNemar:
    """McNemar's exact two-sided test: statsmodels' ``mcnemar([[0, b], [c, 0]], exact=True)``.

    That is 2 · P(X <= min(b, c)) for X ~ Binomial(b + c, 1/2), at most 1; 1.0 without discordant pairs.
    """
    from statsmodels.stats.contingency_tables import mcnemar

    b, c = int(b), int(c)
    p_value = float(mcnemar([[0, b], [c, 0]], exact=MCNEMAR_EXACT).pvalue) if b + c else 1.0
    return McNemar(b, c, p_value, MCNEMAR_METHOD)


@dataclass(frozen=True)
class SignTest:
    """The sign test of paired differences against zero (two-sided, zeros dropped)."""

    n: int
    positive: int
    negative: int
    p_value: float | None  # None when no difference is non-zero


def sign_test(differences: list[float] | np.ndarray) -> SignTest:
    """Exact two-sided binomial test (``binomial_two_sided`` at 1/2) of the positive among the non-zero differences."""
    d = finite_values(differences)
    positive, negative = int((d > 0).sum()), int((d < 0).sum())
    n = positive + negative
    return SignTest(n, positive, negative, binomial_two_sided(positive, n, 0.5))


@dataclass(frozen=True)
class TTest:
    """A two-sided one-sample t-test of the mean against ``mu``."""

    n: int
    mean: float | None
    t: float | None  # None for n < 2 or no spread
    df: int | None
    p_value: float | None


def one_sample_t(values: list[float] | np.ndarray, mu: float = 0.0) -> TTest:
    """Student's one-sample t-test, two-sided: ``scipy.stats.ttest_1samp(values, mu)`` on the finite ``values``.

    t and p are None for n < 2 or when every value is the same (t would be ±inf or 0/0).
    """
    from scipy.stats import ttest_1samp

    x = finite_values(values)
    n = len(x)
    if n == 0:
        return TTest(0, None, None, None, None)
    mean = float(x.mean())
    if n < 2:
        return TTest(n, mean, None, None, None)
    if np.ptp(x) == 0:
        return TTest(n, mean, None, n - 1, None)
    result = ttest_1samp(x, float(mu), alternative="two-sided")
    return TTest(n, mean, float(result.statistic), n - 1, float(result.pvalue))
