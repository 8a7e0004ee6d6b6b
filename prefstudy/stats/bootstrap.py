"""A crossed (two-way) bootstrap of the difference in mean accuracy of two predictors over raters and items.

Raters and items are both sampled from populations, and a rater-only bootstrap treats the items as fixed: with
few items that vary a lot its interval is too narrow. Here raters and items are resampled together, independently
and with replacement, as in a two-way random-effects design; the rater-only interval comes along for comparison.
``scipy.stats.bootstrap`` resamples along one axis only, so this is written here in numpy: counts of how often each
rater and item is drawn, applied as weights to the per-(rater, item) differences, never copying the matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOOTSTRAP_B = 2000
BOOTSTRAP_CONFIDENCE = 0.95
_CHUNK_CELLS = 4_000_000  # replicates x raters per block: a few 32 MB temporaries at a time


@dataclass(frozen=True)
class CrossedBootstrap:
    """The mean over raters of each rater's accuracy difference (a minus b), with two percentile intervals."""

    estimate: float | None
    low: float | None  # raters and items resampled together
    high: float | None
    rater_low: float | None  # raters resampled, items fixed
    rater_high: float | None
    raters: int  # raters with at least one item both predictors were scored on
    items: int
    replicates: int  # B
    seed: int
    confidence: float
    method: str = "percentile bootstrap, raters and items resampled independently with replacement"


def _counts(rng: np.random.Generator, rows: int, size: int) -> np.ndarray:
    """``rows`` bootstrap draws of ``size`` indices, as rows x size counts of how often each index was drawn."""
    drawn = rng.integers(0, size, (rows, size)) + size * np.arange(rows)[:, None]
    return np.bincount(drawn.ravel(), minlength=rows * size).reshape(rows, size).astype(np.float64)


def two_way_bootstrap(
    correct_a: np.ndarray,
    correct_b: np.ndarray,
    B: int = BOOTSTRAP_B,
    seed: int = 0,
    confidence: float = BOOTSTRAP_CONFIDENCE,
) -> CrossedBootstrap:
    """Percentile intervals of mean-over-raters accuracy(a) - accuracy(b), crossed and rater-only.

    ``correct_a`` and ``correct_b`` are raters x items (1 right, 0 wrong, NaN not tested); a cell counts where both
    are present. A rater's accuracy difference is the mean of their cells' differences; the estimate is its mean
    over raters. Each of ``B`` replicates draws raters and items with replacement (``numpy.random.default_rng(seed)``)
    and recomputes it with those counts as weights; a drawn rater none of whose items was drawn drops out of that
    replicate. The rater-only replicates use the same rater draws with every item once.
    """
    a, b = np.asarray(correct_a, dtype=np.float64), np.asarray(correct_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"correct_a and correct_b must be raters x items of one shape, not {a.shape} and {b.shape}")
    if not 0.0 < confidence < 1.0 or int(B) < 1:
        raise ValueError(f"need B >= 1 and 0 < confidence < 1, not B = {B}, confidence = {confidence}")
    present = ~np.isnan(a) & ~np.isnan(b)
    scored = present.any(axis=1)  # raters with no cell scored by both have no accuracy difference: left out
    difference = np.where(present, a - b, 0.0)[scored]
    present = present[scored]
    raters, items = present.shape
    if raters == 0:
        return CrossedBootstrap(None, None, None, None, None, 0, items, int(B), seed, confidence)
    mask = present.astype(np.float64)
    per_rater = difference.sum(axis=1) / mask.sum(axis=1)

    rng = np.random.default_rng(seed)
    crossed, rater_only = np.empty(int(B)), np.empty(int(B))
    block = max(1, _CHUNK_CELLS // raters)
    for start in range(0, int(B), block):
        rows = min(block, int(B) - start)
        w = _counts(rng, rows, raters)  # replicates x raters
        v = _counts(rng, rows, items)  # replicates x items
        rater_only[start : start + rows] = (w @ per_rater) / raters
        numerator, denominator = v @ difference.T, v @ mask.T  # replicates x raters
        kept = w * (denominator > 0)
        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 where nothing was drawn: dropped or left out
            means = np.where(denominator > 0, numerator / denominator, 0.0)
            crossed[start : start + rows] = (kept * means).sum(axis=1) / kept.sum(axis=1)
    tails = 100 * np.array([(1 - confidence) / 2, (1 + confidence) / 2])
    low, high = np.nanpercentile(crossed, tails)
    rater_low, rater_high = np.percentile(rater_only, tails)
    return CrossedBootstrap(
        float(per_rater.mean()), float(low), float(high), float(rater_low), float(rater_high),
        raters, items, int(B), int(seed), float(confidence),
    )  # fmt: skip
