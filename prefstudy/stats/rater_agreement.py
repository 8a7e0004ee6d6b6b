"""Agreement between raters on nominal answers: Cohen's, Fleiss' and pairwise kappa, Krippendorff's alpha."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_ROWS = 512  # rows of kappa formed at once: ~10 MB per float64 temporary at 2,500 subjects


def _kappa(agree: np.ndarray, shared: np.ndarray, chance: np.ndarray) -> np.ndarray:
    """Kappa from counts: (agree·n - Σ a_c b_c) / (n² - Σ a_c b_c), exact in the integers until the last division."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (agree * shared - chance) / (shared * shared - chance)


def cohen_kappa(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float | None:
    """Cohen's kappa of two raters' category codes on the same items; NaN is missing (dropped pairwise).

    None with fewer than 2 shared items or when chance agreement is certain (one category in all).
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    both = ~np.isnan(a) & ~np.isnan(b)
    a, b = a[both], b[both]
    n = len(a)
    if n < 2:
        return None
    _, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    a_counts = np.bincount(codes[:n], minlength=codes.max() + 1)
    b_counts = np.bincount(codes[n:], minlength=codes.max() + 1)
    chance = float(a_counts @ b_counts)
    if chance >= n * n:
        return None
    return float(_kappa(np.float64((a == b).sum()), np.float64(n), np.float64(chance)))


def fleiss_kappa(counts: list[list[float]] | np.ndarray) -> float | None:
    """Fleiss' kappa from an items x categories table of how many raters chose each category.

    Every row must sum to the same number of raters (at least 2); otherwise, or when undefined, None.
    """
    table = np.asarray(counts, dtype=np.float64)
    if table.ndim != 2 or table.size == 0 or np.any(~np.isfinite(table)) or np.any(table < 0):
        return None
    raters = table.sum(axis=1)
    m = raters[0]
    if m < 2 or np.any(raters != m):
        return None
    observed = float(np.mean(((table * table).sum(axis=1) - m) / (m * (m - 1))))
    shares = table.sum(axis=0) / table.sum()
    expected = float(shares @ shares)
    if expected >= 1:
        return None
    return (observed - expected) / (1 - expected)


def krippendorff_alpha_nominal(answers: list[list[float]] | np.ndarray) -> float | None:
    """Krippendorff's alpha for nominal codes in a raters x items matrix (NaN is missing).

    Items with fewer than two codes cannot be paired and are left out; None when nothing is pairable or
    only one category is used.
    """
    data = np.asarray(answers, dtype=np.float64)
    if data.ndim != 2:
        return None
    present = ~np.isnan(data)
    pairable = present.sum(axis=0) >= 2
    data, present = data[:, pairable], present[:, pairable]
    if not present.any():
        return None
    categories, codes = np.unique(data[present], return_inverse=True)
    if len(categories) < 2:
        return None
    # n_uc: how many raters gave item u category c.
    items = np.nonzero(present)[1]
    per_item = np.zeros((data.shape[1], len(categories)))
    np.add.at(per_item, (items, codes), 1.0)
    m = per_item.sum(axis=1)
    disagreeing = float(np.sum((m * m - (per_item * per_item).sum(axis=1)) / (m - 1)))  # Σ_{c≠k} o_ck
    totals = per_item.sum(axis=0)  # n_c
    n = float(totals.sum())
    return 1.0 - (n - 1) * disagreeing / (n * n - float(totals @ totals))


@dataclass(frozen=True)
class PairwiseKappa:
    """Cohen's kappa of every pair of subjects on the items both answered."""

    kappa: np.ndarray  # subjects x subjects; NaN on the diagonal, below min_shared, or where undefined
    shared: np.ndarray  # subjects x subjects: items both answered


def pairwise_cohen_kappa(answers: np.ndarray, min_shared: int = 10) -> PairwiseKappa:
    """Cohen's kappa between all pairs of subjects from binary answers (1 preferred, 0 not, NaN unlabelled).

    Counts come from matrix products of the answered (M) and preferred (P) indicators: shared = M Mᵀ,
    agreements = P Pᵀ + (M - P)(M - P)ᵀ, and each subject's preferred count on the pair's shared items
    from P Mᵀ; kappa is then formed a block of rows at a time to bound memory.
    """
    x = np.asarray(answers)
    if x.ndim != 2:
        raise ValueError(f"answers must be subjects x items, not shape {x.shape}")
    answered = ~np.isnan(x)
    if np.any((x[answered] != 0) & (x[answered] != 1)):
        raise ValueError("pairwise_cohen_kappa takes binary answers: 1, 0 or NaN")
    # float32 products of 0/±1 are exact while the counts stay below 2^24.
    dtype = np.float32 if x.shape[1] < 2**24 else np.float64
    m = answered.astype(dtype)
    p = (x == 1).astype(dtype)
    signed = 2 * p - m  # P - (M - P): +1 preferred, -1 not, 0 unlabelled
    shared = m @ m.T
    # P Pᵀ + (M-P)(M-P)ᵀ = (M Mᵀ + D Dᵀ) / 2 with D = 2P - M: one product fewer.
    agree = (shared + signed @ signed.T) / 2
    preferred = p @ m.T  # [i, j]: subject i's preferred answers among the items j also answered

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
    return PairwiseKappa(kappa, shared.astype(np.int64))
