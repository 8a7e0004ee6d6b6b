"""Wilcoxon's signed-rank test of paired differences across subjects."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from prefstudy.metrics import average_ranks

EXACT_UP_TO = 50
"""Below this many non-zero differences without ties, Wilcoxon's p is exact; above, the normal approximation."""


@dataclass(frozen=True)
class Wilcoxon:
    """Wilcoxon's signed-rank test of paired differences against zero (two-sided)."""

    n: int  # non-zero differences (zeros are dropped, Wilcoxon's way)
    positive: int  # differences above zero
    w_plus: float  # the sum of the ranks of positive differences
    p_value: float | None  # None when no difference is non-zero
    method: str  # "exact" or "normal approximation (tie-corrected, continuity-corrected)"


def _exact_two_sided(n: int, w_plus: float) -> float:
    """P(W+ as extreme as ``w_plus``) under the null, with ranks 1..n and no ties (a count of subsets)."""
    total = n * (n + 1) // 2
    counts = np.zeros(total + 1, dtype=np.float64)
    counts[0] = 1.0
    for rank in range(1, n + 1):
        counts[rank:] = counts[rank:] + counts[:-rank].copy()
    counts /= 2.0**n
    low = min(w_plus, total - w_plus)
    return float(min(1.0, 2 * counts[: math.floor(low) + 1].sum()))


def wilcoxon(differences: list[float] | np.ndarray) -> Wilcoxon:
    """Wilcoxon's signed-rank test on paired ``differences`` (e.g. personal minus population, per rater)."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[np.isfinite(d) & (d != 0)]
    n = len(d)
    if n == 0:
        return Wilcoxon(0, 0, 0.0, None, "no non-zero difference")
    ranks = average_ranks(np.abs(d))
    w_plus = float(ranks[d > 0].sum())
    tied = len(np.unique(np.abs(d))) < n
    if n <= EXACT_UP_TO and not tied:
        return Wilcoxon(n, int((d > 0).sum()), w_plus, _exact_two_sided(n, w_plus), "exact")
    _, counts = np.unique(np.abs(d), return_counts=True)
    mean = n * (n + 1) / 4
    variance = n * (n + 1) * (2 * n + 1) / 24 - float(np.sum(counts**3 - counts)) / 48
    z = (abs(w_plus - mean) - 0.5) / math.sqrt(variance) if variance > 0 else 0.0
    p = math.erfc(max(z, 0.0) / math.sqrt(2))
    return Wilcoxon(n, int((d > 0).sum()), w_plus, min(1.0, p), "normal approximation (tie- and continuity-corrected)")
