"""Wilcoxon's signed-rank test of paired differences across subjects: ``scipy.stats.wilcoxon``, conventions fixed.

Zeros: ``zero_method="wilcox"``. A zero difference (a subject whose two models score exactly alike, common with
accuracies over a hundred items) says nothing about the direction; Wilcoxon's own treatment drops it before ranking,
as the sign test does, so both tests count the same subjects and the exact null distribution applies to the rest.
Pratt's treatment keeps zeros in the ranking, has only the normal approximation, and would change the p-values
this report has printed. Method: exact (``method="exact"``) up to ``EXACT_UP_TO`` non-zero differences without
ties among their sizes; otherwise the normal approximation (``method="asymptotic"``) with the tie-corrected
variance and a continuity correction (``correction=True``). Two-sided always.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prefstudy.stats.describe import finite_values

EXACT_UP_TO = 50
"""Up to this many non-zero differences without ties, Wilcoxon's p is exact; above, the normal approximation."""
ZERO_METHOD = "wilcox"
CORRECTION = True
ALTERNATIVE = "two-sided"
EXACT = "exact"  # scipy's method name, and the method the result names
ASYMPTOTIC = "asymptotic"  # scipy's name for the normal approximation (SciPy >= 1.15)
NORMAL = "normal approximation (tie- and continuity-corrected)"


@dataclass(frozen=True)
class Wilcoxon:
    """Wilcoxon's signed-rank test of paired differences against zero, and the conventions it was run with."""

    n: int  # non-zero differences (zeros are dropped, Wilcoxon's way)
    positive: int  # differences above zero
    w_plus: float  # the sum of the ranks of positive differences (average ranks for ties)
    p_value: float | None  # None when no difference is non-zero
    method: str  # "exact" or NORMAL, in words for the report
    zero_method: str = ZERO_METHOD  # scipy.stats.wilcoxon's zero_method: "wilcox" drops zeros before ranking
    scipy_method: str | None = None  # the method scipy.stats.wilcoxon was called with: "exact" or "asymptotic"
    correction: bool = CORRECTION  # continuity correction (it acts only on the asymptotic method)
    alternative: str = ALTERNATIVE
    zeros: int = 0  # zero differences dropped


def wilcoxon(differences: list[float] | np.ndarray) -> Wilcoxon:
    """Wilcoxon's two-sided signed-rank test on paired ``differences`` (e.g. personal minus population, per rater).

    ``scipy.stats.wilcoxon(d, zero_method="wilcox", correction=True, alternative="two-sided", method=...)`` on the
    finite differences, with method "exact" for at most ``EXACT_UP_TO`` non-zero differences whose sizes are all
    distinct, else "asymptotic"; the result records which (see the module's docstring for why these conventions).
    """
    from scipy.stats import rankdata
    from scipy.stats import wilcoxon as scipy_wilcoxon

    d = finite_values(differences)
    nonzero = d[d != 0]
    n, zeros = len(nonzero), len(d) - len(nonzero)
    if n == 0:
        return Wilcoxon(0, 0, 0.0, None, "no non-zero difference", zeros=zeros)
    sizes = np.abs(nonzero)
    w_plus = float(rankdata(sizes)[nonzero > 0].sum())
    exact = n <= EXACT_UP_TO and len(np.unique(sizes)) == n
    method = EXACT if exact else ASYMPTOTIC
    result = scipy_wilcoxon(d, zero_method=ZERO_METHOD, correction=CORRECTION, alternative=ALTERNATIVE, method=method)
    p_value = min(1.0, float(result.pvalue))
    return Wilcoxon(
        n, int((nonzero > 0).sum()), w_plus, p_value, EXACT if exact else NORMAL, scipy_method=method, zeros=zeros
    )


def wilcoxon_p_rows(differences: np.ndarray) -> np.ndarray:
    """:func:`wilcoxon`'s p of each row of ``differences`` (rows x pairs; NaN where a row has no test), the rows
    that take the exact method (finite, no zero, no tied size, at most ``EXACT_UP_TO``) in one vectorised
    ``scipy.stats.wilcoxon(..., axis=1)`` call with the same options, the others one by one."""
    from scipy.stats import wilcoxon as scipy_wilcoxon

    d = np.asarray(differences, dtype=np.float64)
    out = np.full(len(d), np.nan)
    if not len(d):
        return out
    sizes = np.sort(np.abs(d), axis=1)
    clean = (
        np.all(np.isfinite(d), axis=1)
        & np.all(d != 0, axis=1)
        & np.all(np.diff(sizes, axis=1) != 0, axis=1)
        & (d.shape[1] <= EXACT_UP_TO)
    )
    if clean.any():
        result = scipy_wilcoxon(
            d[clean], axis=1, zero_method=ZERO_METHOD, correction=CORRECTION, alternative=ALTERNATIVE, method=EXACT
        )
        out[clean] = np.minimum(1.0, np.asarray(result.pvalue, dtype=np.float64))
    for i in np.flatnonzero(~clean):
        p = wilcoxon(d[i]).p_value
        out[i] = np.nan if p is None else p
    return out
