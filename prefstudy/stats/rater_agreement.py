"""Agreement between raters on nominal answers: Cohen's, Fleiss' and pairwise kappa, Krippendorff's alpha.

Cohen's and Fleiss' kappa from statsmodels, Krippendorff's alpha from the ``krippendorff`` package (imported on first
use); kappa between every pair of thousands of subjects is formed here, in numpy, because no library does all pairs
at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KRIPPENDORFF_LEVEL = "nominal"
_ROWS = 512  # rows of kappa formed at once: ~10 MB per float64 temporary at 2,500 subjects


def _kappa(agree: np.ndarray, shared: np.ndarray, chance: np.ndarray) -> np.ndarray:
    """Kappa from counts: (agree·n - Σ a_c b_c) / (n² - Σ a_c b_c), exact in the integers until the last division."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (agree * shared - chance) / (shared * shared - chance)


def _crosstab(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The k x k table of how often rater ``a`` said category i and rater ``b`` category j, over a's and b's codes."""
    _, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    k = int(codes.max()) + 1
    return np.bincount(codes[: len(a)] * k + codes[len(a) :], minlength=k * k).reshape(k, k).astype(np.float64)


def cohen_kappa(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float | None:
    """Cohen's kappa of two raters' category codes on the same items: statsmodels' ``cohens_kappa`` on their table.

    NaN is missing (dropped pairwise). None with fewer than 2 shared items or when chance agreement is certain
    (both raters use one and the same category).
    """
    from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa

    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    both = ~np.isnan(a) & ~np.isnan(b)
    a, b = a[both], b[both]
    n = len(a)
    if n < 2:
        return None
    table = _crosstab(a, b)
    if float(table.sum(axis=1) @ table.sum(axis=0)) >= n * n:
        return None
    return float(sm_cohens_kappa(table, return_results=False))


def fleiss_kappa(counts: list[list[float]] | np.ndarray) -> float | None:
    """Fleiss' kappa from an items x categories table of how many raters chose each category.

    statsmodels' ``fleiss_kappa(table, method="fleiss")``. Every row must sum to the same number of raters (at
    least 2); otherwise, or when undefined (one category in all), None.
    """
    from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

    table = np.asarray(counts, dtype=np.float64)
    if table.ndim != 2 or table.size == 0 or np.any(~np.isfinite(table)) or np.any(table < 0):
        return None
    raters = table.sum(axis=1)
    m = raters[0]
    if m < 2 or np.any(raters != m):
        return None
    shares = table.sum(axis=0) / table.sum()
    if float(shares @ shares) >= 1:
        return None
    return float(sm_fleiss_kappa(table, method="fleiss"))


def krippendorff_alpha_nominal(answers: list[list[float]] | np.ndarray) -> float | None:
    """Krippendorff's alpha for nominal codes in a raters x items matrix (NaN is missing).

    The ``krippendorff`` package: ``alpha(reliability_data=..., level_of_measurement="nominal")``. Items with fewer
    than two codes cannot be paired and are left out first (they change nothing); None when nothing is pairable
    or the pairable items use only one category.
    """
    import krippendorff

    data = np.asarray(answers, dtype=np.float64)
    if data.ndim != 2:
        return None
    data = data[:, (~np.isnan(data)).sum(axis=0) >= 2]
    if len(np.unique(data[~np.isnan(data)])) < 2:
        return None
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement=KRIPPENDORFF_LEVEL))


@dataclass(frozen=True)
class PairwiseKappa:
    """Cohen's kappa of every pair of subjects on the items both answered."""

    kappa: np.ndarray  # subjects x subjects; NaN on the diagonal, below min_shared, or where undefined
    shared: np.ndarray  # subjects x subjects: items both answered (the smallest unsigned type that holds them)


def pairwise_cohen_kappa(answers: np.ndarray, min_shared: int = 10) -> PairwiseKappa:
    """Cohen's kappa between all pairs of subjects from binary answers (1 preferred, 0 not, NaN unlabelled).

    Counts come from matrix products of the answered (M) and preferred (P) indicators: shared = M Mᵀ,
    agreements = P Pᵀ + (M - P)(M - P)ᵀ, and each subject's preferred count on the pair's shared items
    from P Mᵀ; kappa is then formed a block of rows at a time to bound memory. Written here in numpy: no library
    forms all pairs at once, and one ``cohen_kappa`` call per pair would be millions of calls at 2,500 subjects
    (tests check it against scikit-learn's ``cohen_kappa_score`` pair by pair).
    """
    x = np.asarray(answers)
    if x.ndim != 2:
        raise ValueError(f"answers must be subjects x items, not shape {x.shape}")
    answered = ~np.isnan(x)
    if np.any((x[answered] != 0) & (x[answered] != 1)):
        raise ValueError("pairwise_cohen_kappa takes binary answers: 1, 0 or NaN")
    # float32 products of 0/±1 are exact while the counts stay below 2^24; each count matrix is then held in the
    # smallest integer type its counts (at most the number of items) fit: at 2,500 subjects and 102 items a
    # subjects x subjects matrix is 6 MB in uint8, not 25 MB in float32.
    dtype = np.float32 if x.shape[1] < 2**24 else np.float64
    counts = np.min_scalar_type(x.shape[1])
    m = answered.astype(dtype)
    p = (x == 1).astype(dtype)
    signed = 2 * p - m  # P - (M - P): +1 preferred, -1 not, 0 unlabelled
    shared_f = m @ m.T
    # P Pᵀ + (M-P)(M-P)ᵀ = (M Mᵀ + D Dᵀ) / 2 with D = 2P - M: one product fewer.
    agree_f = signed @ signed.T
    agree_f += shared_f
    agree_f /= 2
    agree = agree_f.astype(counts)
    del agree_f
    shared = shared_f.astype(counts)
    del shared_f
    preferred = (p @ m.T).astype(counts)  # [i, j]: subject i's preferred answers among the items j also answered

    subjects = x.shape[0]
    kappa = np.empty((subjects, subjects))
    for start in range(0, subjects, _ROWS):
        rows = slice(start, min(start + _ROWS, subjects))
        n = shared[rows].astype(np.float64)
        mine, theirs = preferred[rows].astype(np.float64), preferred[:, rows].T.astype(np.float64)
        chance = mine * theirs + (n - mine) * (n - theirs)
        # Where chance agreement is certain both raters are unanimous, so this is 0/0: NaN.
        kappa[rows] = _kappa(agree[rows].astype(np.float64), n, chance)
        kappa[rows][n < max(min_shared, 2)] = np.nan
    np.fill_diagonal(kappa, np.nan)
    return PairwiseKappa(kappa, shared)  # counts of items, in the smallest integer type that holds them
