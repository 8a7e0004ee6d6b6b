"""Equivalence of paired measurements: two one-sided t-tests (TOST) of the mean difference within ±margin."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prefstudy.stats.describe import finite_values

TOST_METHOD = "TOST, two one-sided paired t-tests (statsmodels ttost_paired)"


@dataclass(frozen=True)
class Equivalence:
    """A TOST of the mean paired difference lying inside (-margin, +margin)."""

    n: int
    mean: float | None
    margin: float
    alpha: float
    p_value: float | None  # the larger one-sided p; None for n < 2 or no spread
    p_lower: float | None  # H0: mean <= -margin, against mean > -margin
    p_upper: float | None  # H0: mean >= +margin, against mean < +margin
    equivalent: bool  # p_value <= alpha: the difference is concluded to lie within ±margin
    method: str = TOST_METHOD


def tost_paired(differences: list[float] | np.ndarray, margin: float, alpha: float = 0.05) -> Equivalence:
    """Schuirmann's TOST on paired ``differences``: statsmodels' ``ttost_paired(d, zeros, -margin, margin)``.

    Equivalence within ±``margin`` (in the differences' units) is concluded when both one-sided t-tests reject at
    ``alpha``, i.e. when the 1 - 2·alpha t-interval of the mean lies inside the margin. NaN differences are dropped;
    the p-values are None for fewer than 2 differences or when they are all the same.
    """
    from statsmodels.stats.weightstats import ttost_paired

    margin, alpha = float(margin), float(alpha)
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be positive, not {margin}")
    d = finite_values(differences)
    n = len(d)
    mean = float(d.mean()) if n else None
    if n < 2 or np.ptp(d) == 0:
        return Equivalence(n, mean, margin, alpha, None, None, None, False)
    p_value, (_, p_lower, _), (_, p_upper, _) = ttost_paired(d, np.zeros(n), -margin, margin)
    p_value = float(p_value)
    return Equivalence(n, mean, margin, alpha, p_value, float(p_lower), float(p_upper), p_value <= alpha)
