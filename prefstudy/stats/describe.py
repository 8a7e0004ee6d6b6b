"""Describing a sample across subjects: its median and quartiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Spread:
    """Median and interquartile range of a sample."""

    n: int
    median: float | None
    q1: float | None
    q3: float | None


def finite_or_none(x: float | None) -> float | None:
    """``x`` as a Python float, or None when it is missing or NaN (JSON and tables show undefined as such)."""
    return None if x is None or x != x else float(x)


def finite_values(values: list[float] | np.ndarray) -> np.ndarray:
    """The finite ``values`` as a flat float64 array (NaN and infinities are missing, not data)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    return x[np.isfinite(x)]


def spread(values: list[float] | np.ndarray) -> Spread:
    """Median and quartiles (linear interpolation) of the finite ``values``."""
    x = finite_values(values)
    if not len(x):
        return Spread(0, None, None, None)
    q1, median, q3 = np.percentile(x, [25, 50, 75])
    return Spread(len(x), float(median), float(q1), float(q3))
