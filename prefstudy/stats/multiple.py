"""Holm's step-down correction for testing many hypotheses at once."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _tested(p_values: Sequence[float | None]) -> list[int]:
    """Indices of the p-values that were computed, smallest p first (None and NaN are untested)."""
    indices = [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    return sorted(indices, key=lambda i: p_values[i])


def holm(p_values: Sequence[float | None], alpha: float = 0.05) -> list[bool]:
    """Which hypotheses Holm's method rejects at family-wise level ``alpha``; untested ones are not rejected."""
    order = _tested(p_values)
    rejected = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > alpha / (len(order) - rank):
            break
        rejected[i] = True
    return rejected


def holm_adjusted(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values (monotone in p, at most 1); None where untested."""
    order = _tested(p_values)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * float(p_values[i])))
        adjusted[i] = running
    return adjusted
