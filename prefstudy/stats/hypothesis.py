"""Exact binomial tests (one- and two-sided, McNemar's, the sign test) and the one-sample t-test."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from prefstudy.stats.distributions import binomial_cdf, binomial_log_pmf, binomial_sf, t_cdf

_RELATIVE_TOLERANCE = 1 + 1e-7  # SciPy's binomtest: probabilities this close to the observed one count as equal


def binomial_greater(successes: int, n: int, p0: float) -> float | None:
    """Exact one-sided p-value of a success rate above ``p0``: P(X >= successes); None without trials."""
    return binomial_sf(successes, n, p0) if n > 0 else None


def binomial_two_sided(k: int, n: int, p: float = 0.5) -> float | None:
    """Exact two-sided p-value: the probability of every count no likelier than ``k`` (SciPy's binomtest)."""
    k, n, p = int(k), int(n), float(p)
    if n <= 0:
        return None
    if not 0 <= k <= n or not 0.0 <= p <= 1.0:
        raise ValueError(f"k = {k} of n = {n} at p = {p} is not a binomial outcome")
    if k == p * n:
        return 1.0
    cutoff = binomial_log_pmf(k, n, p) + math.log(_RELATIVE_TOLERANCE)

    def unlikely(i: int) -> bool:
        return binomial_log_pmf(i, n, p) <= cutoff

    # The pmf falls away from the mean on both sides: bisect the other side for where it drops to the cutoff.
    if k < p * n:
        low, high = math.ceil(p * n), n + 1  # the first unlikely count above the mean lies in [low, high]
        while low < high:
            mid = (low + high) // 2
            low, high = (low, mid) if unlikely(mid) else (mid + 1, high)
        p_value = binomial_cdf(k, n, p) + binomial_sf(low, n, p)
    else:
        low, high = -1, math.floor(p * n)  # the last unlikely count below the mean lies in [low, high]
        while low < high:
            mid = (low + high + 1) // 2
            low, high = (mid, high) if unlikely(mid) else (low, mid - 1)
        p_value = binomial_cdf(low, n, p) + binomial_sf(k, n, p)
    return min(1.0, p_value)


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test of two paired classifiers: the discordant pairs against an even split."""

    b: int  # first right, second wrong
    c: int  # first wrong, second right
    p_value: float | None
    method: str


def mcnemar_exact(b: int, c: int) -> McNemar:
    """McNemar's exact two-sided test: binomial on min(b, c) of b + c at 1/2; 1.0 without discordant pairs."""
    b, c = int(b), int(c)
    n = b + c
    p_value = binomial_two_sided(min(b, c), n, 0.5) if n else 1.0
    return McNemar(b, c, p_value, "McNemar exact (binomial, two-sided)")


@dataclass(frozen=True)
class SignTest:
    """The sign test of paired differences against zero (two-sided, zeros dropped)."""

    n: int
    positive: int
    negative: int
    p_value: float | None  # None when no difference is non-zero


def _finite(values: list[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def sign_test(differences: list[float] | np.ndarray) -> SignTest:
    """Exact two-sided binomial test of the positive differences among the non-zero ones; NaN ignored."""
    d = _finite(differences)
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
    """Student's one-sample t-test (two-sided) of the finite ``values`` against ``mu``."""
    x = _finite(values)
    n = len(x)
    if n == 0:
        return TTest(0, None, None, None, None)
    mean = float(x.mean())
    if n < 2:
        return TTest(n, mean, None, None, None)
    sd = float(x.std(ddof=1))
    if sd == 0:
        return TTest(n, mean, None, n - 1, None)
    t = (mean - float(mu)) / (sd / math.sqrt(n))
    return TTest(n, mean, t, n - 1, min(1.0, 2.0 * t_cdf(-abs(t), n - 1)))
