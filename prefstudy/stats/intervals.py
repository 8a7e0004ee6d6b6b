"""Two-sided confidence intervals: a proportion (Wilson), a mean (Student t), Spearman's rho (Fisher z)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from prefstudy.stats.distributions import t_quantile


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


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson's score interval for the proportion ``successes / n`` (no continuity correction)."""
    method = f"Wilson score, {_level(confidence)}"
    successes, n = int(successes), int(n)
    if n <= 0:
        return Interval(None, None, None, method)
    p, z = successes / n, _z(confidence)
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return Interval(p, max(0.0, center - half), min(1.0, center + half), method)


@dataclass(frozen=True)
class MeanInterval:
    """A sample's mean with Student's t interval; sd and the interval need n >= 2."""

    n: int
    mean: float | None
    sd: float | None
    low: float | None
    high: float | None
    method: str


def t_interval(values: list[float] | np.ndarray, confidence: float = 0.95) -> MeanInterval:
    """Mean ± t(df = n - 1) · sd / sqrt(n) of the finite ``values``."""
    method = f"Student t, {_level(confidence)}"
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return MeanInterval(0, None, None, None, None, method)
    mean = float(x.mean())
    if n < 2:
        return MeanInterval(n, mean, None, None, None, method)
    sd = float(x.std(ddof=1))
    half = t_quantile(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n)
    return MeanInterval(n, mean, sd, mean - half, mean + half, method)


def spearman_interval(rho: float | None, n: int, confidence: float = 0.95) -> Interval:
    """Fisher's z interval for Spearman's rho over ``n`` items, with Bonett and Wright's (2000) standard error."""
    method = f"Fisher z, Bonett–Wright SE, {_level(confidence)}"
    if rho is None or math.isnan(rho):
        return Interval(None, None, None, method)
    rho = float(rho)
    if n < 4:
        return Interval(rho, None, None, method)
    if abs(rho) >= 1:
        return Interval(rho, rho, rho, method)
    # sqrt(1 / (n - 3)) is Pearson's; ranks need the wider (1 + rho^2 / 2) / (n - 3).
    half = _z(confidence) * math.sqrt((1 + rho * rho / 2) / (n - 3))
    z = math.atanh(rho)
    return Interval(rho, math.tanh(z - half), math.tanh(z + half), method)
