"""Student's t and binomial distributions via the regularized incomplete beta function (Numerical Recipes)."""

from __future__ import annotations

import math
from statistics import NormalDist

_EPS = 1e-16
_TINY = 1e-300
_MAX_TERMS = 100_000  # Lentz's fraction needs O(sqrt(max(a, b))) terms: a few hundred at n = 100,000


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), by Lentz's method (NR's betacf)."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS + 1):
        for aa in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            break
    return h


def regularized_beta(a: float, b: float, x: float, y: float | None = None) -> float:
    """I_x(a, b); ``y`` = 1 - x, given when the caller has it more precisely than 1 - x."""
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(y)
    # The fraction converges fast only below the mean; above it, take the complement by symmetry.
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, y) / b


def _t_tail(t: float, df: float) -> float:
    """P(T <= -|t|), from I_x(df/2, 1/2) with x = df / (df + t^2) and its complement, both without cancellation."""
    if math.isinf(df):
        return NormalDist().cdf(-abs(t))
    root = math.sqrt(df)
    if abs(t) >= root:
        u = root / abs(t)
        x, y = u * u / (1.0 + u * u), 1.0 / (1.0 + u * u)
    else:
        v = abs(t) / root
        x, y = 1.0 / (1.0 + v * v), v * v / (1.0 + v * v)
    return 0.5 * regularized_beta(df / 2.0, 0.5, x, y)


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    t, df = float(t), float(df)
    if math.isnan(t) or math.isnan(df) or df <= 0:
        return math.nan
    if t == 0:
        return 0.5
    tail = _t_tail(t, df)
    return tail if t < 0 else 1.0 - tail


def _t_log_pdf(t: float, df: float) -> float:
    if math.isinf(df):
        return -0.5 * t * t - 0.5 * math.log(2 * math.pi)
    # log(1 + t^2/df) without overflowing t^2 in the far tails of small df.
    log_kernel = math.log1p(t * t / df) if abs(t) < 1e100 else 2 * math.log(abs(t)) - math.log(df)
    return math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi) - (df + 1) / 2 * log_kernel


def t_quantile(q: float, df: float) -> float:
    """The t with P(T <= t) = ``q``: Newton's method on the log of the tail, kept inside a bisection bracket."""
    q, df = float(q), float(df)
    if math.isnan(q) or math.isnan(df) or df <= 0 or not 0.0 <= q <= 1.0:
        return math.nan
    if q in (0.0, 1.0):
        return math.copysign(math.inf, q - 0.5)
    if q == 0.5:
        return 0.0
    # Solve in the lower tail, where the target keeps its precision (1 - q is exact for q > 0.5).
    p = min(q, 1.0 - q)
    target = math.log(p)
    low, high = -1.0, 0.0
    while _t_tail(low, df) > p:
        low, high = 2.0 * low, low
    t = max(min(NormalDist().inv_cdf(p), high), low)
    for _ in range(200):
        tail = _t_tail(t, df)
        if tail > p:
            high = t
        else:
            low = t
        step = (math.log(tail) - target) / math.exp(_t_log_pdf(t, df) - math.log(tail)) if tail > 0 else math.inf
        candidate = t - step
        if not low < candidate < high:
            candidate = 0.5 * (low + high)
        if abs(candidate - t) <= 1e-15 * max(1.0, abs(t)):
            t = candidate
            break
        t = candidate
    return t if q < 0.5 else -t


def binomial_log_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0 or p >= 1.0:
        return 0.0 if k == (0 if p <= 0.0 else n) else -math.inf
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * math.log(p) + (n - k) * math.log1p(-p)


def binomial_sf(k: int, n: int, p: float) -> float:
    """Exact P(X >= k) for X ~ Binomial(n, p), as I_p(k, n - k + 1)."""
    k, n, p = int(k), int(n), float(p)
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return regularized_beta(k, n - k + 1, p, 1.0 - p)


def binomial_cdf(k: int, n: int, p: float) -> float:
    """Exact P(X <= k) for X ~ Binomial(n, p), as I_(1-p)(n - k, k + 1)."""
    k, n, p = int(k), int(n), float(p)
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return regularized_beta(n - k, k + 1, 1.0 - p, p)
