"""Two-sided confidence intervals: a proportion (Wilson), a mean (Student t), Spearman's rho (Fisher z).

Wilson's from statsmodels' ``proportion_confint``, the t-interval from ``scipy.stats.t.interval``, the normal
quantile of Fisher's z from ``scipy.stats.norm``; the libraries are imported on first use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from prefstudy.stats.describe import finite_values

WILSON_METHOD = "wilson"  # statsmodels' proportion_confint(method=...): the score interval, no continuity correction
T_INTERVAL_MIN_N = 3
"""Fewer values than this get a mean and sd but no t-interval: at n = 2, t(0.975, 1) = 12.7 makes it absurdly wide."""
SPEARMAN_MIN_N = 4  # the Fisher z standard error needs n - 3 > 0


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided interval; None where undefined."""

    estimate: float | None
    low: float | None
    high: float | None
    method: str  # e.g. "Wilson score, 95 %"


def _level(confidence: float) -> str:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, not {confidence}")
    return f"{100 * confidence:g} %"


@lru_cache(maxsize=64)
def _z(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


@lru_cache(maxsize=1 << 16)  # a report scores thousands of runs over a few item counts: the same few calls
def wilson(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson's score interval for ``successes / n``: statsmodels' ``proportion_confint(method="wilson")``."""
    from statsmodels.stats.proportion import proportion_confint

    method = f"Wilson score, {_level(confidence)}"
    successes, n = int(successes), int(n)
    if n <= 0:
        return Interval(None, None, None, method)
    low, high = proportion_confint(successes, n, alpha=1 - confidence, method=WILSON_METHOD)
    return Interval(successes / n, max(0.0, float(low)), min(1.0, float(high)), method)


@dataclass(frozen=True)
class MeanInterval:
    """A sample's mean with Student's t interval; sd needs n >= 2, the interval n >= T_INTERVAL_MIN_N."""

    n: int
    mean: float | None
    sd: float | None
    low: float | None
    high: float | None
    method: str


def t_interval(values: list[float] | np.ndarray, confidence: float = 0.95) -> MeanInterval:
    """Mean ± t(df = n - 1) · sd / sqrt(n) of the finite ``values``: ``scipy.stats.t.interval``.

    The interval is None below ``T_INTERVAL_MIN_N`` values (the report prints "—"): a two-value interval is defined
    but says nothing. Without spread it is the mean itself.
    """
    from scipy.stats import t as student

    method = f"Student t, {_level(confidence)}"
    x = finite_values(values)
    n = len(x)
    if n == 0:
        return MeanInterval(0, None, None, None, None, method)
    mean = float(x.mean())
    if n < 2:
        return MeanInterval(n, mean, None, None, None, method)
    sd = float(x.std(ddof=1))
    if n < T_INTERVAL_MIN_N:
        return MeanInterval(n, mean, sd, None, None, method)
    if np.ptp(x) == 0:
        return MeanInterval(n, mean, sd, mean, mean, method)
    low, high = student.interval(confidence, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return MeanInterval(n, mean, sd, float(low), float(high), method)


def spearman_interval(rho: float | None, n: int, confidence: float = 0.95) -> Interval:
    """Fisher's z interval for Spearman's rho over ``n`` items, with Bonett and Wright's (2000) standard error.

    tanh(atanh(rho) ± z · sqrt((1 + rho² / 2) / (n - 3))), z from ``scipy.stats.norm.ppf``: no library gives
    this interval for rank correlations, so it is written out here. None below ``SPEARMAN_MIN_N`` items.
    """
    method = f"Fisher z, Bonett–Wright SE, {_level(confidence)}"
    if rho is None or math.isnan(rho):
        return Interval(None, None, None, method)
    rho = float(rho)
    if n < SPEARMAN_MIN_N:
        return Interval(rho, None, None, method)
    if abs(rho) >= 1:
        return Interval(rho, rho, rho, method)
    # sqrt(1 / (n - 3)) is Pearson's; ranks need the wider (1 + rho^2 / 2) / (n - 3).
    half = _z(confidence) * math.sqrt((1 + rho * rho / 2) / (n - 3))
    z = math.atanh(rho)
    return Interval(rho, math.tanh(z - half), math.tanh(z + half), method)
