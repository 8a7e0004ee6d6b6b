"""Student's t and the binomial tail, from ``scipy.stats`` (imported on first use: the report starts without SciPy)."""

from __future__ import annotations

import math


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom: ``scipy.stats.t.cdf``; NaN for df <= 0."""
    from scipy.stats import t as student

    return math.nan if not float(df) > 0 else float(student.cdf(float(t), float(df)))


def t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = ``q``: ``scipy.stats.t.ppf``; NaN outside [0, 1] or for df <= 0."""
    from scipy.stats import t as student

    return math.nan if not float(df) > 0 else float(student.ppf(float(q), float(df)))


def binomial_sf(k: int, n: int, p: float) -> float:
    """Exact P(X >= k) for X ~ Binomial(n, p): ``scipy.stats.binom.sf(k - 1, n, p)``."""
    from scipy.stats import binom

    return float(binom.sf(int(k) - 1, int(n), float(p)))
